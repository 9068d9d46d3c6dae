"""Passwords, login rate limiting and CSRF tokens for the console.

Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106's second recommended
option). Failed logins are counted per account name from each client address, and per
address over all names, over a sliding window; past a limit every attempt is refused (HTTP
429) without checking the password, so a guesser learns nothing and costs us no hashing. The
clock is injected; the counts are kept where the limiter is told (`FailureLog`): the console
keeps them in the records store, so a restart does not clear them.
"""

from __future__ import annotations

import hmac
import secrets
from collections import deque
from collections.abc import Callable
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# Failed logins allowed for one account from one address within the window; from one address
# over every account name (guessing across names), ADDRESS_MAX_FAILURES.
MAX_FAILURES = 5
ADDRESS_MAX_FAILURES = 20
WINDOW_S = 300.0
MIN_PASSWORD_CHARS = 10

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    return _hasher.hash(password)


def check_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# A real hash to verify against when the account does not exist, so a missing name takes as
# long as a wrong password.
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


def check_login(password_hash: str | None, password: str) -> bool:
    if password_hash is None:
        check_password(_DUMMY, password)
        return False
    return check_password(password_hash, password)


class FailureLog(Protocol):
    """Where failed logins are kept: the times (on the limiter's clock) of each key's failures."""

    def failures_since(self, key: str, since: float) -> list[float]:
        """`key`'s failures at or after `since`, oldest first (older ones may be forgotten)."""
        ...

    def add_failure(self, key: str, at: float) -> None: ...

    def clear_failures(self, key: str) -> None: ...


class MemoryFailures:
    """A FailureLog in memory (a restart clears it): for a limiter with no store."""

    def __init__(self) -> None:
        self._times: dict[str, deque[float]] = {}

    def failures_since(self, key: str, since: float) -> list[float]:
        times = self._times.setdefault(key, deque())
        while times and times[0] < since:
            times.popleft()
        return list(times)

    def add_failure(self, key: str, at: float) -> None:
        self._times.setdefault(key, deque()).append(at)

    def clear_failures(self, key: str) -> None:
        self._times.pop(key, None)


class LoginLimiter:
    """Sliding-window count of failed logins per key (an address, an account name)."""

    def __init__(
        self,
        clock: Callable[[], float],
        max_failures: int = MAX_FAILURES,
        window_s: float = WINDOW_S,
        log: FailureLog | None = None,
    ) -> None:
        self.clock = clock
        self.max_failures = max_failures
        self.window_s = window_s
        self.log: FailureLog = MemoryFailures() if log is None else log

    def blocked_for_s(self, *keys: str) -> float:
        """Seconds until any of `keys` may try again (0: allowed now)."""
        wait = 0.0
        now = self.clock()
        for key in keys:
            times = self.log.failures_since(key, now - self.window_s)
            if len(times) >= self.max_failures:
                wait = max(wait, self.window_s - (now - times[-self.max_failures]))
        return wait

    def failed(self, *keys: str) -> None:
        now = self.clock()
        for key in keys:
            self.log.add_failure(key, now)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self.log.clear_failures(key)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
