"""Errors whose text the member should read; the dispatcher turns them into a reply."""

from __future__ import annotations

from typing import Any


class UserError(Exception):
    """Refuse a command with a reply rendered from `template`; nothing was changed."""

    template = "errors/generic"

    def __init__(self, message: str = "", template: str | None = None, **data: Any) -> None:
        super().__init__(message)
        if template:
            self.template = template
        self.data: dict[str, Any] = {"message": message, **data}


class NotAdmin(UserError):
    template = "errors/not_admin"


class UsageError(UserError):
    template = "errors/usage"


class WrongPlace(UserError):
    template = "errors/wrong_place"
