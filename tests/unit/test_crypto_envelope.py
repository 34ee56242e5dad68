"""Envelope encryption: randomised, bound to its context, and tamper-evident."""

from __future__ import annotations

import uuid

import pytest

from infra.crypto.envelope import (
    DecryptionError,
    field_context,
    key_id_of,
    new_data_key,
    open_sealed,
    open_text,
    seal,
    seal_text,
)

ROW = uuid.UUID("5b0f3c2e-8d7a-4a51-9c3e-0d2b6f1a7e44")
KEY_ID = uuid.UUID("0e9d5a7c-1f2b-4c3d-8e4f-5a6b7c8d9e0f")
CONTEXT = field_context("participants", "email", ROW)
PLAINTEXT = b"ada@example.org"


def test_round_trip() -> None:
    key = new_data_key()

    blob = seal(key, KEY_ID, PLAINTEXT, CONTEXT)

    assert open_sealed(key, blob, CONTEXT) == PLAINTEXT


def test_text_round_trip() -> None:
    key = new_data_key()
    text = "Zoë Ōkubo-Łukasiewicz ✓"

    assert open_text(key, seal_text(key, KEY_ID, text, CONTEXT), CONTEXT) == text


def test_empty_plaintext_round_trips() -> None:
    key = new_data_key()

    assert open_sealed(key, seal(key, KEY_ID, b"", CONTEXT), CONTEXT) == b""


def test_same_plaintext_encrypts_differently_each_time() -> None:
    key = new_data_key()

    blobs = {seal(key, KEY_ID, PLAINTEXT, CONTEXT) for _ in range(20)}
    nonces = {blob[17:29] for blob in blobs}

    assert len(blobs) == 20
    assert len(nonces) == 20


def test_blob_layout() -> None:
    blob = seal(new_data_key(), KEY_ID, PLAINTEXT, CONTEXT)

    assert blob[0] == 0x01
    assert blob[1:17] == KEY_ID.bytes
    assert len(blob) == 1 + 16 + 12 + len(PLAINTEXT) + 16
    assert PLAINTEXT not in blob


def test_key_id_of_reads_the_header() -> None:
    assert key_id_of(seal(new_data_key(), KEY_ID, PLAINTEXT, CONTEXT)) == KEY_ID


@pytest.mark.parametrize("blob", [b"", b"\x01" + b"\x00" * 15, b"\x02" + KEY_ID.bytes])
def test_key_id_of_rejects_a_bad_header(blob: bytes) -> None:
    with pytest.raises(DecryptionError):
        key_id_of(blob)


def test_new_data_keys_are_random_32_bytes() -> None:
    keys = {new_data_key() for _ in range(10)}

    assert len(keys) == 10
    assert all(len(key) == 32 for key in keys)


@pytest.mark.parametrize(
    "other",
    [
        field_context("participants", "email", uuid.UUID(int=ROW.int ^ 1)),
        field_context("participants", "phone", ROW),
        field_context("staff_users", "email", ROW),
        b"",
    ],
    ids=["other row", "other column", "other table", "no context"],
)
def test_ciphertext_moved_to_another_context_fails(other: bytes) -> None:
    key = new_data_key()
    blob = seal(key, KEY_ID, PLAINTEXT, CONTEXT)

    with pytest.raises(DecryptionError):
        open_sealed(key, blob, other)


def test_field_contexts_are_unambiguous() -> None:
    assert field_context("ab", "c", ROW) != field_context("a", "bc", ROW)


@pytest.mark.parametrize(("table", "column"), [("", "email"), ("participants", "")])
def test_field_context_needs_names(table: str, column: str) -> None:
    with pytest.raises(ValueError, match="names"):
        field_context(table, column, ROW)


def test_tampering_with_any_byte_fails() -> None:
    # Covers the version byte, key id, nonce, ciphertext and tag in turn.
    key = new_data_key()
    blob = seal(key, KEY_ID, PLAINTEXT, CONTEXT)

    for position in range(len(blob)):
        for flip in (0x01, 0x80):
            tampered = bytearray(blob)
            tampered[position] ^= flip
            with pytest.raises(DecryptionError):
                open_sealed(key, bytes(tampered), CONTEXT)


def test_swapped_header_key_id_fails() -> None:
    key = new_data_key()
    blob = seal(key, KEY_ID, PLAINTEXT, CONTEXT)
    other_id = uuid.UUID("11111111-2222-4333-8444-555555555555")

    swapped = blob[:1] + other_id.bytes + blob[17:]

    assert key_id_of(swapped) == other_id
    with pytest.raises(DecryptionError):
        open_sealed(key, swapped, CONTEXT)


def test_wrong_key_fails() -> None:
    blob = seal(new_data_key(), KEY_ID, PLAINTEXT, CONTEXT)

    with pytest.raises(DecryptionError):
        open_sealed(new_data_key(), blob, CONTEXT)


@pytest.mark.parametrize("length", [0, 1, 17, 29, 44])
def test_truncated_blob_fails(length: int) -> None:
    key = new_data_key()
    blob = seal(key, KEY_ID, PLAINTEXT, CONTEXT)

    with pytest.raises(DecryptionError):
        open_sealed(key, blob[:length], CONTEXT)


def test_extended_blob_fails() -> None:
    key = new_data_key()
    blob = seal(key, KEY_ID, PLAINTEXT, CONTEXT)

    with pytest.raises(DecryptionError):
        open_sealed(key, blob + b"\x00", CONTEXT)


def test_unknown_version_fails() -> None:
    key = new_data_key()
    blob = seal(key, KEY_ID, PLAINTEXT, CONTEXT)

    with pytest.raises(DecryptionError):
        open_sealed(key, b"\x02" + blob[1:], CONTEXT)


def test_decryption_error_leaks_no_detail() -> None:
    key = new_data_key()
    blob = seal(key, KEY_ID, PLAINTEXT, CONTEXT)

    with pytest.raises(DecryptionError) as caught:
        open_sealed(key, blob, b"elsewhere")

    assert str(caught.value) == "cannot decrypt value"
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_open_text_of_non_utf8_fails() -> None:
    key = new_data_key()
    blob = seal(key, KEY_ID, b"\xff\xfe", CONTEXT)

    with pytest.raises(DecryptionError):
        open_text(key, blob, CONTEXT)


@pytest.mark.parametrize("key", [b"", b"k" * 16, b"k" * 31, b"k" * 33])
def test_key_must_be_32_bytes(key: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        seal(key, KEY_ID, PLAINTEXT, CONTEXT)
    with pytest.raises(ValueError, match="32 bytes"):
        open_sealed(key, seal(new_data_key(), KEY_ID, PLAINTEXT, CONTEXT), CONTEXT)
