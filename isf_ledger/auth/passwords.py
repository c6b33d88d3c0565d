"""Passwords for the web pages: chosen by people, so hashed with argon2, long enough and not a
common one (NIST SP 800-63B: length, no composition rules)."""
from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

PASSWORDS = PasswordHasher()  # one set of argon2 parameters for hashing and checking
_DUMMY_HASH: list[str] = []  # made on first use: checked when there is no hash, so that takes as long


MIN_PASSWORD_LENGTH = 12


def _common_passwords() -> frozenset[str]:
    """zxcvbn's list of the 30,000 passwords most often found in breaches, and a few that this
    product's users would be likely to pick."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS
    own = ("isfledger", "isf-ledger", "individualservicefund", "individualservicefunds", "passwordpassword",
           "password1234", "password12345", "password123456", "123456789012", "qwertyuiopasdf")
    return frozenset(FREQUENCY_LISTS["passwords"]) | frozenset(own)


_COMMON: list[frozenset[str]] = []  # read on first use


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None: length and common passwords, no composition rules
    (NIST SP 800-63B): a few unrelated words make a good one."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return (f"a password must be at least {MIN_PASSWORD_LENGTH} characters long (this one has "
                f"{len(password)}); a few unrelated words make a good one")
    if not _COMMON:
        _COMMON.append(_common_passwords())
    folded = password.casefold()
    if folded in _COMMON[0] or "".join(folded.split()) in _COMMON[0]:
        return "this password is on a list of common passwords; choose another (a few unrelated words make a good one)"
    return None


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether `password` is the one hashed; always an argon2 check, also with no hash at all,
    so a name without a user (or without a password) answers no faster than a wrong password."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(PASSWORDS.hash(secrets.token_urlsafe(16)))
    try:
        return PASSWORDS.verify(password_hash or _DUMMY_HASH[0], password) and password_hash is not None
    except (VerificationError, InvalidHashError):  # a wrong password, or a hash that is not argon2
        return False
