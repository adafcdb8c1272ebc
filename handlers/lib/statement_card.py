"""The 我的账单 PNG card: the statement's figures drawn with Pillow, at a fixed size; None when it cannot be drawn.

It needs a font with Chinese glyphs: `[statement] font` when set, else the first of the usual system
places (and whatever `fc-list :lang=zh` names). Without one, or without Pillow, the statement goes as
text only and the log says once what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from loguru import logger

WIDTH, HEIGHT = 750, 1200
MAX_BYTES = 3 * 1024 * 1024  # the wechaty transport refuses bigger files
INSTALL_HINT = "apt install fonts-wqy-microhei or set [statement] font"
FONT_PLACES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)

BG = (246, 243, 238)
PANEL = (255, 255, 255)
INK = (40, 40, 46)
MUTED = (130, 128, 124)
ACCENT = (192, 57, 43)
ACCENT_2 = (230, 126, 34)
GREEN = (39, 150, 96)
BAR_BG = (236, 231, 224)

_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        logger.warning(message)


def _loads(path: str) -> bool:
    try:
        from PIL import ImageFont

        ImageFont.truetype(path, 20)
    except (ImportError, OSError, ValueError):
        return False
    return True


def _fc_list() -> list[str]:
    """Font files fontconfig says cover Chinese; [] without fontconfig."""
    exe = shutil.which("fc-list")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, ":lang=zh", "file"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted(line.strip().rstrip(":") for line in out.splitlines() if line.strip())


@lru_cache(maxsize=8)
def find_font(configured: str = "") -> str | None:
    """The font file to draw with: `configured` when set (None if it does not load), else the first usable
    one of the usual places; None when there is none (or Pillow is missing)."""
    if configured:
        return configured if _loads(configured) else None
    for path in (*FONT_PLACES, *_fc_list()):
        if os.path.isfile(path) and _loads(path):
            return path
    return None


@lru_cache(maxsize=8)
def _face_index(path: str) -> int:
    """In a font collection, the Simplified Chinese face when it has one (Noto CJK lists Japanese first)."""
    if not path.lower().endswith(".ttc"):
        return 0
    from PIL import ImageFont

    for i in range(16):
        try:
            family = ImageFont.truetype(path, 12, index=i).getname()[0] or ""
        except OSError:
            break
        if family.endswith(" SC") or " SC " in family or "GB" in family:
            return i
    return 0


def truetype(path: str, size: int) -> Any:
    """The font at `path` in `size` px, the Simplified Chinese face of a collection."""
    from PIL import ImageFont

    return ImageFont.truetype(path, size, index=_face_index(path))


def write_png(draw_image: Callable[[dict[str, Any], str], Any], data: dict[str, Any], path: Path, font: str, *,
              what: str, section: str) -> str | None:
    """`draw_image(data, font file)` saved as a PNG at `path` (whole, or not at all); its path, or None when it
    cannot be drawn: no Pillow or no usable font (said once in the log, naming `what` goes as text and the
    `[section] font` setting), a drawing that fails, or a file over MAX_BYTES."""
    try:
        import PIL  # noqa: F401
    except ImportError:
        _warn_once(f"Pillow is not installed: {what} goes as text only (pip install -r requirements.txt)")
        return None
    face = find_font(font)
    if face is None:
        if font:
            _warn_once(f"cannot load the [{section}] font {font!r}: {what} goes as text only "
                       f"(give a TTF/OTF/TTC file with Chinese glyphs, or {INSTALL_HINT})")
        else:
            _warn_once(f"no font with Chinese glyphs found: {what} goes as text only ({INSTALL_HINT})")
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        draw_image(data, face).save(tmp, format="PNG")  # optimize=True costs 5x the time for 3% less
        os.replace(tmp, path)  # a transport never reads a half-written picture
    except Exception:  # a picture is a nicety: the message still goes as text
        logger.exception("could not draw {} into {}; sending text only", what, path)
        return None
    if path.stat().st_size > MAX_BYTES:
        logger.warning("{} picture {} is over {} bytes; sending text only", what, path, MAX_BYTES)
        path.unlink(missing_ok=True)
        return None
    return str(path)


def render(data: dict[str, Any], path: Path, font: str = "") -> str | None:
    """Draw the card for statement `data` into `path` (a PNG); its path, or None (logged) when it cannot be drawn."""
    return write_png(draw, data, path, font, what="我的账单", section="statement")


def draw(data: dict[str, Any], font_path: str) -> Any:
    """The card as a PIL image of WIDTH x HEIGHT."""
    from PIL import Image, ImageDraw, ImageFont

    index = _face_index(font_path)
    fonts: dict[int, Any] = {}

    def f(size: int) -> Any:
        if size not in fonts:
            fonts[size] = ImageFont.truetype(font_path, size, index=index)
        return fonts[size]

    img = Image.new("RGB", (WIDTH, HEIGHT), BG)
    d = ImageDraw.Draw(img)

    def fit(text: str, size: int, width: int) -> str:
        if d.textlength(text, font=f(size)) <= width:
            return text
        while text and d.textlength(text + "…", font=f(size)) > width:
            text = text[:-1]
        return text + "…"

    def say(xy: tuple[float, float], text: str, size: int, fill: tuple[int, int, int] = INK, anchor: str = "la",
            width: int = WIDTH - 80, bold: bool = False) -> None:
        d.text(xy, fit(text, size, width), font=f(size), fill=fill, anchor=anchor,
               stroke_width=1 if bold else 0, stroke_fill=fill)

    def panel(top: int, bottom: int) -> None:
        d.rounded_rectangle((30, top + 4, WIDTH - 30, bottom + 4), radius=22, fill=(232, 226, 218))
        d.rounded_rectangle((30, top, WIDTH - 30, bottom), radius=22, fill=PANEL)

    # header: a warm gradient with the title
    for y in range(250):
        t = y / 250
        d.line([(0, y), (WIDTH, y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(ACCENT, ACCENT_2, strict=True)))
    say((40, 44), f"{data['year']} 年度积分账单", 44, (255, 255, 255), bold=True)
    who = data["member_name"] or "我"
    say((40, 112), f"{who} · {data['year']}年1月1日 — {data['until']}", 24, (253, 235, 208))

    # balance
    panel(170, 360)
    say((60, 196), "当前积分", 24, MUTED)
    say((60, 234), str(data["points"]), 76, INK, bold=True, width=380)
    say((WIDTH - 60, 204), f"年初 {data['opening']}", 24, MUTED, anchor="ra", width=250)
    say((WIDTH - 60, 246), f"成长值 {data['growth']}", 24, MUTED, anchor="ra", width=250)
    if data["level"]:
        say((WIDTH - 60, 290), f"{data['level']['name']}会员", 30, ACCENT, anchor="ra", width=250, bold=True)

    # four tiles
    checkin, redeemed = data["checkin"], data["redeemed"]
    tiles = [
        ("签到天数", f"{checkin['days']}天" if checkin else "—"),
        ("最长连续", f"{checkin['longest']}天" if checkin else "—"),
        ("成功邀请", f"{data['invites']}人" if data["invites"] is not None else "—"),
        ("兑换商品", f"{redeemed['count']}件" if redeemed else "—"),
    ]
    gap, left = 14, 30
    w = (WIDTH - 60 - gap * 3) // 4
    for i, (label, value) in enumerate(tiles):
        x = left + i * (w + gap)
        d.rounded_rectangle((x, 384, x + w, 504), radius=18, fill=PANEL)
        say((x + w / 2, 404), label, 22, MUTED, anchor="ma", width=w - 16)
        say((x + w / 2, 444), value, 38, INK, anchor="ma", width=w - 16, bold=True)

    # what came in, by source
    panel(524, 800)
    say((60, 548), "今年获得", 28, INK, bold=True)
    say((WIDTH - 60, 548), f"+{data['earned']}" if data["earned"] > 0 else str(data["earned"]), 28, GREEN, anchor="ra", bold=True)
    sources = data["sources"][:10]
    if not sources:
        say((60, 610), "今年还没有获得积分", 24, MUTED)
    col = (WIDTH - 120 - 40) // 2
    for i, s in enumerate(sources):
        x = 60 + (i % 2) * (col + 40)
        y = 604 + (i // 2) * 38
        say((x, y), s["name"], 24, INK, width=col - 90)
        say((x + col, y), str(s["points"]), 24, INK, anchor="ra", width=90)

    # what went out, rank, level, what it buys
    panel(820, 1148)
    spent = f"今年支出 {data['spent']}"
    if data["show_expired"]:
        spent += f"   ·   过期 {data['expired']}"
    say((60, 844), spent, 26, INK, bold=True)
    if data["spending"]:
        say((60, 884), " · ".join(f"{s['name']} {s['points']}" for s in data["spending"]), 22, MUTED)
    if data["is_admin"]:
        rank = "管理员不参与排名"
    elif data["rank"] is not None and data["rank"]["first"]:
        rank = "积分排名第 1"
    elif data["rank"] is not None:
        rank = f"积分超过了 {data['rank']['percent']}% 的成员"
    else:
        rank = "暂无排名"
    say((60, 930), rank, 26, ACCENT, bold=True)
    if data["levels"]:
        lv, nxt = data["level"], data["next"]
        say((60, 980), f"{lv['name'] if lv else '暂无等级'} · 成长值 {data['growth']}", 24, INK)
        low = lv["growth"] if lv else 0
        frac = 1.0 if nxt is None else max(0.0, min(1.0, (data["growth"] - low) / max(1, nxt["growth"] - low)))
        d.rounded_rectangle((60, 1020, WIDTH - 60, 1036), radius=8, fill=BAR_BG)
        if frac > 0:
            d.rounded_rectangle((60, 1020, 60 + max(16, round((WIDTH - 120) * frac)), 1036), radius=8, fill=ACCENT_2)
        tip = f"再得 {nxt['remaining']} 成长值升级为「{nxt['name']}」" if nxt else "已是最高等级"
        say((60, 1046), tip, 22, MUTED)
    if data["offers"] is not None:
        if data["offers"]:
            names = "、".join(o["name"] if len(o["name"]) <= 8 else o["name"][:7] + "…" for o in data["offers"][:3])
            more = f" 等 {data['offer_count']} 件" if data["offer_count"] > 3 else ""
            say((60, 1094), f"现在可兑换：{names}{more}", 24, INK)
        else:
            say((60, 1094), "积分再多一些就能兑换商城的商品啦", 24, MUTED)
    say((WIDTH / 2, 1166), "私聊发送「我的账单」随时查看", 20, MUTED, anchor="ma")
    return img
