"""The 运营周报 picture: the week's headline figures and its check-in rate by day, drawn with Pillow.

Called in a worker thread (`asyncio.to_thread`), never on the event loop. Needs a font with Chinese glyphs
(found as for the 我的账单 card: handlers.lib.statement_card.find_font); without one, or without Pillow, the
report goes as text only and the log says once what to install.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from handlers.lib.statement_card import write_png

WIDTH, HEIGHT = 750, 900
BG = (244, 246, 249)
PANEL = (255, 255, 255)
INK = (36, 41, 51)
MUTED = (120, 128, 140)
ACCENT = (37, 99, 235)
ACCENT_2 = (14, 165, 233)
BAR_BG = (226, 232, 240)
WEEKDAYS = "一二三四五六日"

def render(data: dict[str, Any], path: Path, font: str = "") -> str | None:
    """Draw the weekly report `data` (handlers.stats.weekly_data) into `path`; its path, or None (logged)."""
    return write_png(draw, data, path, font, what="运营周报", section="statement")


def draw(data: dict[str, Any], font_path: str) -> Any:
    """The report as a PIL image of WIDTH x HEIGHT."""
    from PIL import Image, ImageDraw, ImageFont

    fonts: dict[int, Any] = {}

    def f(size: int) -> Any:
        if size not in fonts:
            fonts[size] = ImageFont.truetype(font_path, size)
        return fonts[size]

    img = Image.new("RGB", (WIDTH, HEIGHT), BG)
    d = ImageDraw.Draw(img)

    def say(xy: tuple[float, float], text: str, size: int, fill: tuple[int, int, int] = INK, anchor: str = "la",
            bold: bool = False) -> None:
        d.text(xy, text, font=f(size), fill=fill, anchor=anchor, stroke_width=1 if bold else 0, stroke_fill=fill)

    for y in range(190):
        t = y / 190
        d.line([(0, y), (WIDTH, y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(ACCENT, ACCENT_2, strict=True)))
    say((40, 40), "运营周报", 46, (255, 255, 255), bold=True)
    say((40, 110), f"{data['start']} 至 {data['until']}", 26, (224, 242, 254))

    tiles = [("在群成员", str(data["members"])), ("新入群", f"+{data['joined']}"), ("近 7 天活跃", str(data["active_7d"])),
             ("签到率", data["checkin_rate_7d"])]
    gap, left = 14, 30
    w = (WIDTH - 60 - gap * 3) // 4
    for i, (label, value) in enumerate(tiles):
        x = left + i * (w + gap)
        d.rounded_rectangle((x, 160, x + w, 290), radius=18, fill=PANEL)
        say((x + w / 2, 182), label, 22, MUTED, anchor="ma")
        say((x + w / 2, 226), value, 38, INK, anchor="ma", bold=True)

    # the check-in rate of each day of the week
    d.rounded_rectangle((30, 314, WIDTH - 30, 640), radius=22, fill=PANEL)
    say((60, 338), "每日签到率", 28, INK, bold=True)
    days = data["days"]
    top, bottom = 425, 590
    slot = (WIDTH - 120) / max(1, len(days))
    for i, day in enumerate(days):
        x0 = 60 + i * slot + slot * 0.2
        x1 = 60 + (i + 1) * slot - slot * 0.2
        d.rounded_rectangle((x0, top, x1, bottom), radius=8, fill=BAR_BG)
        h = (bottom - top) * min(1.0, day["rate"])
        if h >= 1:
            d.rounded_rectangle((x0, bottom - h, x1, bottom), radius=8, fill=ACCENT)
        say(((x0 + x1) / 2, top - 8), f"{day['rate']:.0%}", 20, INK, anchor="md")
        say(((x0 + x1) / 2, bottom + 12), f"周{WEEKDAYS[day['weekday']]}", 20, MUTED, anchor="ma")

    # the points of the week
    p = data["points"]
    d.rounded_rectangle((30, 664, WIDTH - 30, 870), radius=22, fill=PANEL)
    say((60, 688), "积分收支", 28, INK, bold=True)
    rows = [("获得", f"+{p['earned']}"), ("兑换", f"−{p['redeemed']}"), ("收回", f"−{p['reversed']}"),
            ("退款 / 过期", f"+{p['refunded']} / −{p['expired']}"), ("期末结余", str(p["closing"]))]
    for i, (label, value) in enumerate(rows):
        y = 738 + i * 25
        say((60, y), label, 20, MUTED)
        say((WIDTH - 60, y), value, 20, INK, anchor="ra")
    return img
