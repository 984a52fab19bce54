"""Password hashing (argon2id) and the password rule."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from server.errors import ValidationFailed

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so timing does not reveal accounts.
DUMMY_HASH = _hasher.hash("not-a-real-password-0")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_password_rule(password: str) -> None:
    """At least 8 characters (at most 128), with letters and digits."""
    if (
        len(password) < 8
        or len(password) > 128
        or not any(c.isalpha() for c in password)
        or not any(c.isdigit() for c in password)
    ):
        raise ValidationFailed("weak_password", details={"fields": {"password": "weak_password"}})
