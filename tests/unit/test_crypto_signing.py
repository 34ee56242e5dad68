"""Ed25519 signing keys derived from purpose keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.crypto.keys import KeyFileProvider, Purpose
from infra.crypto.signing import (
    key_id,
    public_key_from_raw,
    public_key_pem,
    raw_public_key,
    sign,
    signing_key,
    verify,
)

SEED = bytes(range(32))
MESSAGE = b"checkpoint 42: 9f86d081884c7d65"


def test_sign_and_verify() -> None:
    private = signing_key(SEED)

    signature = sign(private, MESSAGE)

    assert len(signature) == 64
    assert verify(private.public_key(), MESSAGE, signature)


def test_forged_signature_returns_false() -> None:
    private = signing_key(SEED)
    signature = bytearray(sign(private, MESSAGE))
    signature[10] ^= 0x01

    assert verify(private.public_key(), MESSAGE, bytes(signature)) is False


@pytest.mark.parametrize("signature", [b"", b"\x00" * 63, b"\x00" * 64, b"\x00" * 65])
def test_garbage_signature_returns_false(signature: bytes) -> None:
    assert verify(signing_key(SEED).public_key(), MESSAGE, signature) is False


def test_signature_over_another_message_returns_false() -> None:
    private = signing_key(SEED)

    assert verify(private.public_key(), MESSAGE + b"!", sign(private, MESSAGE)) is False


def test_signature_by_another_key_returns_false() -> None:
    other = signing_key(bytes(32))

    assert verify(signing_key(SEED).public_key(), MESSAGE, sign(other, MESSAGE)) is False


def test_same_seed_gives_same_key() -> None:
    assert raw_public_key(signing_key(SEED)) == raw_public_key(signing_key(SEED))


def test_key_id_is_16_hex_chars_of_the_public_key() -> None:
    private = signing_key(SEED)

    kid = key_id(private)

    assert len(kid) == 16
    assert int(kid, 16) >= 0
    assert kid == key_id(private.public_key())
    assert kid != key_id(signing_key(bytes(32)))


def test_public_key_exports_round_trip() -> None:
    private = signing_key(SEED)

    raw = raw_public_key(private)
    pem = public_key_pem(private)

    assert len(raw) == 32
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert raw_public_key(public_key_from_raw(raw)) == raw
    assert verify(public_key_from_raw(raw), MESSAGE, sign(private, MESSAGE))


@pytest.mark.parametrize("seed", [b"", b"s" * 31, b"s" * 33])
def test_seed_must_be_32_bytes(seed: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        signing_key(seed)


def test_signing_keys_differ_per_purpose_and_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    provider = KeyFileProvider.open_or_create(path)
    purposes = (Purpose.TOKEN_SIGNING, Purpose.CHECKPOINT_SIGNING, Purpose.EXPORT_SIGNING)

    ids = [key_id(signing_key(provider.purpose_key(purpose))) for purpose in purposes]
    reopened = KeyFileProvider.open_or_create(path)

    assert len(set(ids)) == 3
    assert ids == [key_id(signing_key(reopened.purpose_key(purpose))) for purpose in purposes]


def test_repr_shows_no_key_material() -> None:
    private = signing_key(SEED)

    shown = repr(private) + repr(private.public_key())

    assert SEED.hex() not in shown
    assert repr(SEED) not in shown
