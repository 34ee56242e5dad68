"""Keyed blind indexes: find a row by an encrypted value without decrypting every row."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

INDEX_BYTES = 32
_KEY_BYTES = 32
_FIELD_LABEL = b"hearth/v1/blind-index/"

Normaliser = Callable[[str], str]


def exact(value: str) -> str:
    """The identity normaliser: the value is indexed exactly as given."""
    return value


def normalise_email(value: str) -> str:
    """Emails compare without surrounding whitespace and without case."""
    return value.strip().casefold()


def normalise_phone(value: str) -> str:
    """Phone numbers compare by their digits, keeping a leading '+' (international form)."""
    stripped = value.strip()
    prefix = "+" if stripped.startswith("+") else ""
    # Any Unicode decimal digit (e.g. full-width) maps to its ASCII digit.
    digits = "".join(str(unicodedata.decimal(ch)) for ch in stripped if ch.isdecimal())
    return prefix + digits


def blind_index(
    purpose_key: bytes, field: str, value: str, *, normalise: Normaliser = exact
) -> bytes:
    """HMAC-SHA256 of the normalised value under a key specific to `field` (32 bytes)."""
    message = normalise(value).encode("utf-8")
    return hmac.new(_field_key(purpose_key, field), message, hashlib.sha256).digest()


def _field_key(purpose_key: bytes, field: str) -> bytes:
    # A key per field: equal values in different fields must not give linkable indexes.
    if len(purpose_key) != _KEY_BYTES:
        raise ValueError(f"the blind-index purpose key must be {_KEY_BYTES} bytes")
    if not field:
        raise ValueError("a blind index needs a field name")
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=_KEY_BYTES,
        salt=None,
        info=_FIELD_LABEL + field.encode("utf-8"),
    )
    return hkdf.derive(purpose_key)
