"""Checks of what members type in a conversation that more than one feature asks for (a phone number)."""

from __future__ import annotations

import re

_PHONE = re.compile(r"^1[3-9]\d{9}$")
_PHONE_NOISE = re.compile(r"[\s\-()]")


class Invalid(ValueError):
    """An answer that does not fit its field; `reason` picks the wording in profile/invalid."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def clean_phone(text: str) -> str:
    """A mainland mobile number as 11 digits (spaces, dashes and a +86 prefix allowed)."""
    t = _PHONE_NOISE.sub("", text)
    if t.startswith("+86"):
        t = t[3:]
    elif t.startswith("86") and len(t) == 13:
        t = t[2:]
    if not _PHONE.match(t):
        raise Invalid("phone")
    return t
