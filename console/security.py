"""Passwords (argon2), the login throttle, CSRF tokens and the host check of the console."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id with the library's defaults (RFC 9106 low-memory profile)
MIN_PASSWORD = 8
MAX_FAILURES = 5  # wrong passwords per name and address before the lock
LOCK_SECONDS = 15 * 60


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# a name that does not exist costs the same argon2 verify as one that does: timing tells nothing
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def password_problem(password: str) -> str | None:
    """What is wrong with a new password, in Chinese; None when it will do."""
    if len(password) < MIN_PASSWORD:
        return f"密码至少 {MIN_PASSWORD} 个字符"
    if password.strip() != password:
        return "密码不能以空格开头或结尾"
    return None


def fingerprint(password_hash: str) -> str:
    """What a session keeps of the account's hash (the cookie is readable): a new password ends old sessions."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Throttle:
    """Wrong passwords per (name, client address): MAX_FAILURES within the lock time lock that pair out."""

    max_failures: int = MAX_FAILURES
    lock_seconds: float = LOCK_SECONDS
    clock: Callable[[], float] = time.monotonic
    _failures: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def locked_for(self, name: str, address: str) -> float:
        """Seconds this pair must still wait (0: may try)."""
        now = self.clock()
        recent = [t for t in self._failures.get((name, address), []) if now - t < self.lock_seconds]
        if recent:
            self._failures[(name, address)] = recent
        else:
            self._failures.pop((name, address), None)
        if len(recent) < self.max_failures:
            return 0.0
        return self.lock_seconds - (now - recent[-self.max_failures])

    def failed(self, name: str, address: str) -> None:
        self._failures.setdefault((name, address), []).append(self.clock())
        if len(self._failures) > 10_000:  # a flood of made-up names: forget the oldest pairs
            for key in list(self._failures)[:5_000]:
                del self._failures[key]

    def succeeded(self, name: str, address: str) -> None:
        self._failures.pop((name, address), None)
