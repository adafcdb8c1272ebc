"""Accounts of the operator console and its stored state; storage keeps hashes, console/ makes them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.tables import CONSOLE_STATE, CONSOLE_USERS

ROLES = ("viewer", "operator")
SECRET = "session_secret"


class AccountExists(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"console user {name} exists")
        self.name = name


@dataclass(frozen=True)
class Account:
    name: str
    password_hash: str
    role: str
    disabled: bool
    created_at: datetime


class Accounts:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, name: str, password_hash: str, role: str, at: datetime) -> Account:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        try:
            with self.db.transaction() as conn:
                conn.execute(insert(CONSOLE_USERS).values(name=name, password_hash=password_hash, role=role,
                                                          disabled=False, created_at=at))
        except IntegrityError:
            raise AccountExists(name) from None
        return Account(name, password_hash, role, False, at)

    def get(self, name: str) -> Account | None:
        with self.db.reading() as conn:
            r = conn.execute(select(CONSOLE_USERS).where(CONSOLE_USERS.c.name == name)).first()
        return Account(r.name, r.password_hash, r.role, bool(r.disabled), r.created_at) if r else None

    def all(self) -> list[Account]:
        with self.db.reading() as conn:
            rows = conn.execute(select(CONSOLE_USERS).order_by(CONSOLE_USERS.c.name)).all()
        return [Account(r.name, r.password_hash, r.role, bool(r.disabled), r.created_at) for r in rows]

    def update(self, name: str, *, password_hash: str | None = None, role: str | None = None,
               disabled: bool | None = None) -> bool:
        values: dict[str, object] = {}
        if password_hash is not None:
            values["password_hash"] = password_hash
        if role is not None:
            if role not in ROLES:
                raise ValueError(f"role must be one of {ROLES}")
            values["role"] = role
        if disabled is not None:
            values["disabled"] = disabled
        with self.db.transaction() as conn:
            res = conn.execute(update(CONSOLE_USERS).where(CONSOLE_USERS.c.name == name).values(**values))
            return bool(res.rowcount)

    def secret(self) -> str:
        """The session-signing secret: made once (the first console to start), then read back."""
        with self.db.reading() as conn:
            got = conn.execute(select(CONSOLE_STATE.c.value).where(CONSOLE_STATE.c.name == SECRET)).scalar()
        if got:
            return str(got)
        try:
            with self.db.transaction() as conn:
                conn.execute(insert(CONSOLE_STATE).values(name=SECRET, value=secrets.token_urlsafe(48)))
        except IntegrityError:
            pass  # another process made it first: theirs stands
        with self.db.reading() as conn:
            return str(conn.execute(select(CONSOLE_STATE.c.value).where(CONSOLE_STATE.c.name == SECRET)).scalar_one())


__all__ = ["ROLES", "Account", "AccountExists", "Accounts"]
