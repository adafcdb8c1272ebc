"""What every console screen shares: the refusal a route raises, masking of personal fields, response headers."""

from __future__ import annotations

from datetime import date

HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "same-origin",
           "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"}


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def mask(value: str) -> str:
    """What a page shows of a personal field before a reveal: its first and last character at most."""
    v = str(value)
    if len(v) <= 2:
        return "*" * len(v)
    if len(v) >= 7:
        return v[:3] + "*" * (len(v) - 5) + v[-2:]
    return v[0] + "*" * (len(v) - 2) + v[-1]


def as_int(v: str | None) -> int | None:
    return int(v) if v and v.isdecimal() and len(v) < 19 else None


def as_day(v: str) -> date | None:
    try:
        return date.fromisoformat(v) if v else None
    except ValueError:
        return None


def one_line(text: str) -> str:
    """A reason as typed, its whitespace runs made one space."""
    return " ".join(text.split())
