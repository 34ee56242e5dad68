"""Ed25519 signatures with keys derived deterministically from a per-purpose seed."""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SEED_BYTES = 32
_KEY_ID_HEX_CHARS = 16


def signing_key(seed: bytes) -> Ed25519PrivateKey:
    """The Ed25519 key for a 32-byte seed (a purpose key); the same seed gives the same key."""
    if len(seed) != SEED_BYTES:
        raise ValueError(f"an Ed25519 seed is {SEED_BYTES} bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def raw_public_key(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The 32-byte raw public key."""
    return _public(key).public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public key as PEM (SubjectPublicKeyInfo), for publishing to verifiers."""
    pem = _public(key).public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return pem.decode("ascii")


def public_key_from_raw(raw: bytes) -> Ed25519PublicKey:
    """Load a public key from its 32 raw bytes."""
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """A short stable name for a public key: the first 16 hex chars of SHA-256 of its raw bytes."""
    return hashlib.sha256(raw_public_key(key)).hexdigest()[:_KEY_ID_HEX_CHARS]


def sign(private_key: Ed25519PrivateKey, message: bytes) -> bytes:
    """A 64-byte Ed25519 signature of `message`."""
    return private_key.sign(message)


def verify(public_key: Ed25519PublicKey, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is valid for `message`; a bad signature is False, not an error."""
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _public(key: Ed25519PrivateKey | Ed25519PublicKey) -> Ed25519PublicKey:
    return key.public_key() if isinstance(key, Ed25519PrivateKey) else key
