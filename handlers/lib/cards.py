"""Where the PNG cards go (我的账单, the leaderboard), and their clean-up."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

KEEP_SECONDS = 24 * 3600  # cards are sent within minutes; a day later they are only litter


def cards_dir(settings: Any, configured: str = "") -> Path:
    """`configured` when set, else cards/ beside a SQLite database file, else data/cards."""
    if configured:
        return Path(configured)
    url = settings.storage.url
    if url.startswith("sqlite:///") and ":memory:" not in url and len(url) > len("sqlite:///"):
        return Path(url[len("sqlite:///"):]).parent / "cards"
    return Path("data/cards")


def prune(directory: Path, pattern: str, keep: float = KEEP_SECONDS) -> None:
    """Remove the cards matching `pattern` older than `keep` seconds."""
    cutoff = time.time() - keep
    try:
        for p in directory.glob(pattern):
            if p.stat().st_mtime < cutoff:
                p.unlink(missing_ok=True)
    except OSError:
        pass


def once(draw: Callable[[], str | None]) -> Callable[[], str | None]:
    """`draw`, run at most once however many messages carry it (a post to every group): later calls, from any
    thread, wait for the first and get its file."""
    lock = threading.Lock()
    done: list[str | None] = []

    def drawn() -> str | None:
        with lock:
            if not done:
                done.append(draw())
            return done[0]

    return drawn
