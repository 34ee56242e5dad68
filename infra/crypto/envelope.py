"""Envelope encryption of field values: AES-256-GCM, bound to their table, column and row."""

from __future__ import annotations

import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Blob layout: version (1 byte) | data key id (16) | nonce (12) | ciphertext || tag (16).
VERSION = 0x01
KEY_BYTES = 32
_KEY_ID_BYTES = 16
_NONCE_BYTES = 12
_TAG_BYTES = 16
_HEADER_BYTES = 1 + _KEY_ID_BYTES
_MIN_BLOB_BYTES = _HEADER_BYTES + _NONCE_BYTES + _TAG_BYTES
_CONTEXT_LABEL = b"hearth/v1/field"
_MAX_NAME_BYTES = 0xFFFF


class DecryptionError(Exception):
    """A value could not be decrypted; deliberately says nothing about why."""

    def __init__(self, message: str = "cannot decrypt value") -> None:
        super().__init__(message)


def new_data_key() -> bytes:
    """A fresh random AES-256 data key."""
    return os.urandom(KEY_BYTES)


def field_context(table: str, column: str, row_id: uuid.UUID) -> bytes:
    """Associated data that binds a ciphertext to one table, column and row."""
    # Length prefixes keep ("ab", "c") and ("a", "bc") from producing the same context.
    return _CONTEXT_LABEL + _length_prefixed(table) + _length_prefixed(column) + row_id.bytes


def seal(key: bytes, key_id: uuid.UUID, plaintext: bytes, context: bytes) -> bytes:
    """Encrypt `plaintext` under `key`; a fresh random nonce is used on every call."""
    header = bytes([VERSION]) + key_id.bytes
    nonce = os.urandom(_NONCE_BYTES)
    # The header is authenticated too, so its key id cannot be swapped for another one.
    return header + nonce + _aead(key).encrypt(nonce, plaintext, header + context)


def key_id_of(blob: bytes) -> uuid.UUID:
    """The data key id in a blob's header, to find the key; unauthenticated until opened."""
    if len(blob) < _HEADER_BYTES or blob[0] != VERSION:
        raise DecryptionError()
    return uuid.UUID(bytes=bytes(blob[1:_HEADER_BYTES]))


def open_sealed(key: bytes, blob: bytes, context: bytes) -> bytes:
    """Decrypt a blob made by `seal`; raises `DecryptionError` if anything does not match."""
    aead = _aead(key)
    if len(blob) < _MIN_BLOB_BYTES or blob[0] != VERSION:
        raise DecryptionError()
    header = blob[:_HEADER_BYTES]
    nonce = blob[_HEADER_BYTES : _HEADER_BYTES + _NONCE_BYTES]
    body = blob[_HEADER_BYTES + _NONCE_BYTES :]
    try:
        return aead.decrypt(nonce, body, header + context)
    except InvalidTag:
        # `from None`: the library's exception adds nothing a caller may act on.
        raise DecryptionError() from None


def seal_text(key: bytes, key_id: uuid.UUID, plaintext: str, context: bytes) -> bytes:
    """`seal` for text, stored as UTF-8."""
    return seal(key, key_id, plaintext.encode("utf-8"), context)


def open_text(key: bytes, blob: bytes, context: bytes) -> str:
    """`open_sealed` for text sealed with `seal_text`."""
    plaintext = open_sealed(key, blob, context)
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptionError() from None


def _aead(key: bytes) -> AESGCM:
    # A wrong-sized key is a programming error, not a bad ciphertext, so it is a ValueError.
    if len(key) != KEY_BYTES:
        raise ValueError(f"data keys are {KEY_BYTES} bytes (AES-256)")
    return AESGCM(key)


def _length_prefixed(name: str) -> bytes:
    encoded = name.encode("utf-8")
    if not encoded or len(encoded) > _MAX_NAME_BYTES:
        raise ValueError("table and column names must be 1 to 65535 bytes of UTF-8")
    return len(encoded).to_bytes(2, "big") + encoded
