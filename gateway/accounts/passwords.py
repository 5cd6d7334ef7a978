"""Passwords: Argon2id hashes (argon2-cffi), a length floor, the commonest passwords refused."""

from __future__ import annotations

import secrets
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from gateway.accounts.labels import MESSAGES
from services.common.errors import Invalid
from services.common.settings import Settings

# zxcvbn's 30,000 commonest passwords of public breaches, plus those of Chinese sites it lacks.
COMMON_FILE = Path(__file__).with_name("common_passwords.txt")
MAX_LENGTH = 256  # hashing is costly on purpose; a megabyte-long "password" should not be
GENERATED_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class WeakPassword(Invalid):
    """A new password the policy refuses."""


def hasher(settings: Settings) -> PasswordHasher:
    """The Argon2id hasher at the configured cost."""
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        type=Type.ID,
    )


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    ours = (line.strip().lower() for line in lines if line.strip())
    return frozenset(ours) | frozenset(FREQUENCY_LISTS["passwords"])


def check_policy(password: str, *, username: str, min_length: int) -> None:
    """Refuse (422 naming the field) a password that is short, common or the username."""
    reason = None
    if len(password) < min_length:
        reason = MESSAGES("password_short", length=min_length)
    elif len(password) > MAX_LENGTH:
        reason = MESSAGES("password_long", length=MAX_LENGTH)
    elif password.lower() in common_passwords() or len(set(password)) <= 2:
        reason = MESSAGES("password_common")
    elif username and username.lower() in password.lower():
        reason = MESSAGES("password_username")
    if reason:
        raise WeakPassword(reason, loc=["password"])


def generate(username: str = "") -> str:
    """A random password to hand out once (16 characters, no look-alike letters), never one
    the policy would refuse for `username`."""
    while True:
        password = "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(16))
        if not username or username.lower() not in password.lower():
            return password


def verify(ph: PasswordHasher, stored: str, password: str) -> bool:
    """Whether `password` matches the stored hash (a malformed hash never matches)."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return ph.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
