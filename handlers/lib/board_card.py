"""The leaderboard as a PNG card (`[leaderboard] card = true`): the rows of the text board drawn with Pillow.

Drawn when the message is sent, in a worker thread (Outgoing.draw), never inside a batch. Without Pillow or a
font with Chinese glyphs the board goes as text, and the log says once what to install.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from handlers.lib.statement_card import truetype, write_png

WIDTH = 750
ROW, TOP, BOTTOM = 78, 210, 120
BG = (246, 243, 238)
PANEL = (255, 255, 255)
INK = (40, 40, 46)
MUTED = (130, 128, 124)
GOLD, SILVER, BRONZE = (212, 160, 23), (150, 156, 166), (184, 115, 51)
HEAD_A, HEAD_B = (41, 98, 180), (86, 160, 220)
ME = (255, 244, 214)

def render(data: dict[str, Any], path: Path, font: str = "") -> str | None:
    """Draw the board `data` (title, since, rows of rank/name/points/me, mine) into `path`; its path, or None."""
    return write_png(draw, data, path, font, what="the leaderboard", section="leaderboard")


def height(data: dict[str, Any]) -> int:
    return TOP + ROW * max(1, len(data["rows"])) + BOTTOM + (60 if data.get("mine") else 0)


def draw(data: dict[str, Any], font_path: str) -> Any:
    """The card as a PIL image WIDTH wide, one row per member on the board."""
    from PIL import Image, ImageDraw

    fonts: dict[int, Any] = {}

    def f(size: int) -> Any:
        if size not in fonts:
            fonts[size] = truetype(font_path, size)
        return fonts[size]

    h = height(data)
    img = Image.new("RGB", (WIDTH, h), BG)
    d = ImageDraw.Draw(img)

    def fit(text: str, size: int, width: int) -> str:
        if d.textlength(text, font=f(size)) <= width:
            return text
        while text and d.textlength(text + "…", font=f(size)) > width:
            text = text[:-1]
        return text + "…"

    def say(xy: tuple[float, float], text: str, size: int, fill: tuple[int, int, int] = INK, anchor: str = "la",
            width: int = WIDTH - 80) -> None:
        d.text(xy, fit(text, size, width), font=f(size), fill=fill, anchor=anchor)

    for y in range(160):
        t = y / 160
        d.line([(0, y), (WIDTH, y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(HEAD_A, HEAD_B, strict=True)))
    say((40, 40), data["title"], 46, (255, 255, 255))
    sub = f"{data['scope']} TOP {data['size']}" if data.get("scope") else f"TOP {data['size']}"
    if data.get("since"):
        sub += f" · {data['since']}起"
    say((40, 104), sub, 24, (225, 238, 252))

    d.rounded_rectangle((30, 180, WIDTH - 30, h - BOTTOM + 40), radius=22, fill=PANEL)
    rows = data["rows"]
    if not rows:
        say((WIDTH / 2, TOP + 20), "还没有人上榜，发送「签到」抢第一！", 28, MUTED, anchor="ma")
    medal = {1: GOLD, 2: SILVER, 3: BRONZE}
    for i, r in enumerate(rows):
        y = TOP + ROW * i
        if r.get("me"):
            d.rounded_rectangle((40, y - 8, WIDTH - 40, y + ROW - 14), radius=14, fill=ME)
        colour = medal.get(r["rank"])
        if colour is not None:
            d.ellipse((60, y + 2, 110, y + 52), fill=colour)
            say((85, y + 27), str(r["rank"]), 28, (255, 255, 255), anchor="mm")
        else:
            say((85, y + 27), str(r["rank"]), 28, MUTED, anchor="mm")
        say((135, y + 27), r["name"] + ("（你）" if r.get("me") else ""), 30, INK, anchor="lm", width=400)
        say((WIDTH - 60, y + 27), f"{r['points']} 分", 30, INK, anchor="rm", width=180)
    mine = data.get("mine")
    foot = h - BOTTOM + 70
    if mine and mine.get("rank"):
        say((WIDTH / 2, foot - 50), f"你目前第 {mine['rank']} 名，{mine['points']} 分", 26, INK, anchor="ma")
    say((WIDTH / 2, foot), "发送「积分」查看自己的积分和排名", 24, MUTED, anchor="ma")
    return img
