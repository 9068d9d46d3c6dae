"""Passwords, login rate limiting and CSRF tokens for the console.

Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106's second recommended
option). Failed logins are counted per account name from each client address, and per
address over all names, over a sliding window; past a limit every attempt is refused (HTTP
429) without checking the password, so a guesser learns nothing and costs us no hashing. The
clock is injected.
"""

from __future__ import annotations

import hmac
import secrets
from collections import deque
from collections.abc import Callable

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


class LoginLimiter:
    """Sliding-window count of failed logins per key (an address, an account name)."""

    def __init__(
        self,
        clock: Callable[[], float],
        max_failures: int = MAX_FAILURES,
        window_s: float = WINDOW_S,
    ) -> None:
        self.clock = clock
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        now = self.clock()
        while times and now - times[0] > self.window_s:
            times.popleft()
        return times

    def blocked_for_s(self, *keys: str) -> float:
        """Seconds until any of `keys` may try again (0: allowed now)."""
        wait = 0.0
        for key in keys:
            times = self._recent(key)
            if len(times) >= self.max_failures:
                wait = max(wait, self.window_s - (self.clock() - times[0]))
        return wait

    def failed(self, *keys: str) -> None:
        for key in keys:
            self._recent(key).append(self.clock())

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
