"""Key file provider: file safety, wrapping, rotation and purpose keys."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from infra.crypto import keys
from infra.crypto.envelope import DecryptionError, new_data_key
from infra.crypto.keys import (
    KeyFileError,
    KeyFileProvider,
    KeyProvider,
    Purpose,
    UnwrapError,
    WrappedKey,
)

CONTEXT = b"participant/0f6c"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _key_path(tmp_path: Path) -> Path:
    return tmp_path / "secrets" / "hearth-keys.json"


def _leftover_temp_files(path: Path) -> list[Path]:
    return list(path.parent.glob("*.tmp"))


def _doc(path: Path) -> Any:
    return json.loads(path.read_bytes())


def _secrets_in(path: Path) -> list[bytes]:
    doc = _doc(path)
    encoded = [doc["root_secret"], *(kek["key"] for kek in doc["keks"])]
    return [base64.b64decode(text) for text in encoded]


def test_first_run_creates_private_file_and_directory(tmp_path: Path) -> None:
    path = _key_path(tmp_path)

    provider = KeyFileProvider.open_or_create(path)

    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    assert provider.current_kek_id.startswith("kek-")
    assert provider.kek_ids == (provider.current_kek_id,)
    assert [len(secret) for secret in _secrets_in(path)] == [32, 32]
    assert _leftover_temp_files(path) == []


def test_key_file_provider_is_a_key_provider(tmp_path: Path) -> None:
    provider: KeyProvider = KeyFileProvider.open_or_create(_key_path(tmp_path))

    assert len(provider.purpose_key(Purpose.BLIND_INDEX)) == 32


def test_wrap_unwrap_round_trip(tmp_path: Path) -> None:
    provider = KeyFileProvider.open_or_create(_key_path(tmp_path))
    data_key = new_data_key()

    wrapped = provider.wrap(data_key, context=CONTEXT)

    assert wrapped.kek_id == provider.current_kek_id
    assert data_key not in wrapped.blob
    assert provider.unwrap(wrapped, context=CONTEXT) == data_key


def test_wrapping_twice_gives_different_blobs(tmp_path: Path) -> None:
    provider = KeyFileProvider.open_or_create(_key_path(tmp_path))
    data_key = new_data_key()

    first = provider.wrap(data_key, context=CONTEXT)
    second = provider.wrap(data_key, context=CONTEXT)

    assert first.blob != second.blob


def test_unwrap_with_another_context_fails(tmp_path: Path) -> None:
    provider = KeyFileProvider.open_or_create(_key_path(tmp_path))
    wrapped = provider.wrap(new_data_key(), context=b"participant/A")

    with pytest.raises(UnwrapError):
        provider.unwrap(wrapped, context=b"participant/B")


def test_unwrap_error_is_a_decryption_error(tmp_path: Path) -> None:
    provider = KeyFileProvider.open_or_create(_key_path(tmp_path))
    wrapped = provider.wrap(new_data_key(), context=CONTEXT)

    with pytest.raises(DecryptionError):
        provider.unwrap(wrapped, context=b"other")


def test_unwrap_of_tampered_blob_fails(tmp_path: Path) -> None:
    provider = KeyFileProvider.open_or_create(_key_path(tmp_path))
    wrapped = provider.wrap(new_data_key(), context=CONTEXT)

    for position in range(len(wrapped.blob)):
        blob = bytearray(wrapped.blob)
        blob[position] ^= 0x01
        with pytest.raises(UnwrapError):
            provider.unwrap(WrappedKey(wrapped.kek_id, bytes(blob)), context=CONTEXT)


def test_unwrap_of_truncated_blob_fails(tmp_path: Path) -> None:
    provider = KeyFileProvider.open_or_create(_key_path(tmp_path))
    wrapped = provider.wrap(new_data_key(), context=CONTEXT)

    with pytest.raises(UnwrapError):
        provider.unwrap(WrappedKey(wrapped.kek_id, wrapped.blob[:20]), context=CONTEXT)


def test_unwrap_with_unknown_kek_fails(tmp_path: Path) -> None:
    provider = KeyFileProvider.open_or_create(_key_path(tmp_path))
    wrapped = provider.wrap(new_data_key(), context=CONTEXT)

    with pytest.raises(UnwrapError, match="unknown key-encryption key"):
        provider.unwrap(WrappedKey("kek-00000000", wrapped.blob), context=CONTEXT)


def test_rotate_makes_new_kek_current_and_old_keys_still_unwrap(tmp_path: Path) -> None:
    path = _key_path(tmp_path)
    provider = KeyFileProvider.open_or_create(path)
    first_kek = provider.current_kek_id
    old_key = new_data_key()
    old_wrapped = provider.wrap(old_key, context=CONTEXT)

    new_kek = provider.rotate()

    assert new_kek != first_kek
    assert provider.current_kek_id == new_kek
    assert provider.kek_ids == (first_kek, new_kek)
    assert provider.unwrap(old_wrapped, context=CONTEXT) == old_key
    assert provider.wrap(new_data_key(), context=CONTEXT).kek_id == new_kek
    assert _mode(path) == 0o600
    assert _leftover_temp_files(path) == []
    assert all(_mode(entry) == 0o600 for entry in path.parent.iterdir())  # lock file too


def test_reopening_after_rotate_behaves_the_same(tmp_path: Path) -> None:
    path = _key_path(tmp_path)
    provider = KeyFileProvider.open_or_create(path)
    old_key, new_key = new_data_key(), new_data_key()
    old_wrapped = provider.wrap(old_key, context=CONTEXT)
    provider.rotate()
    new_wrapped = provider.wrap(new_key, context=CONTEXT)

    reopened = KeyFileProvider.open_or_create(path)

    assert reopened.current_kek_id == provider.current_kek_id
    assert reopened.kek_ids == provider.kek_ids
    assert reopened.unwrap(old_wrapped, context=CONTEXT) == old_key
    assert reopened.unwrap(new_wrapped, context=CONTEXT) == new_key
    for purpose in Purpose:
        assert reopened.purpose_key(purpose) == provider.purpose_key(purpose)


def test_rotate_keeps_keks_added_by_another_process(tmp_path: Path) -> None:
    path = _key_path(tmp_path)
    first = KeyFileProvider.open_or_create(path)
    second = KeyFileProvider.open_or_create(path)

    kek_a = first.rotate()
    wrapped_by_first = first.wrap(b"k" * 32, context=CONTEXT)
    kek_b = second.rotate()  # second's in-memory copy has never seen kek_a

    reopened = KeyFileProvider.open_or_create(path)
    assert {kek_a, kek_b} <= set(reopened.kek_ids)
    assert reopened.current_kek_id == kek_b
    assert second.unwrap(wrapped_by_first, context=CONTEXT) == b"k" * 32


def test_concurrent_rotations_lose_no_kek(tmp_path: Path) -> None:
    # Separate providers stand in for separate processes; the file lock must serialise them.
    path = _key_path(tmp_path)
    KeyFileProvider.open_or_create(path)
    providers = [KeyFileProvider.open_or_create(path) for _ in range(4)]
    created: list[str] = []

    def rotate_five_times(provider: KeyFileProvider) -> None:
        created.extend(provider.rotate() for _ in range(5))

    threads = [threading.Thread(target=rotate_five_times, args=(p,)) for p in providers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert set(created) <= set(KeyFileProvider.open_or_create(path).kek_ids)
    assert len(KeyFileProvider.open_or_create(path).kek_ids) == 21


def test_a_second_first_run_does_not_overwrite_the_key_file(tmp_path: Path) -> None:
    path = _key_path(tmp_path)
    KeyFileProvider.open_or_create(path)
    original = path.read_bytes()

    keys._create(path)  # what a racing process would do after its exists() check

    assert path.read_bytes() == original
    assert _leftover_temp_files(path) == []


def test_unwrap_finds_a_kek_rotated_in_by_another_process(tmp_path: Path) -> None:
    path = _key_path(tmp_path)
    stale = KeyFileProvider.open_or_create(path)
    rotator = KeyFileProvider.open_or_create(path)
    rotator.rotate()
    wrapped = rotator.wrap(b"k" * 32, context=CONTEXT)

    assert stale.unwrap(wrapped, context=CONTEXT) == b"k" * 32


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o660])
def test_key_file_accessible_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = _key_path(tmp_path)
    KeyFileProvider.open_or_create(path)
    os.chmod(path, mode)

    with pytest.raises(KeyFileError, match="chmod 600"):
        KeyFileProvider.open_or_create(path)


def test_rotate_refuses_a_key_file_made_readable_by_others(tmp_path: Path) -> None:
    path = _key_path(tmp_path)
    provider = KeyFileProvider.open_or_create(path)
    os.chmod(path, 0o644)

    with pytest.raises(KeyFileError):
        provider.rotate()


def test_rotate_refuses_a_key_file_with_another_root_secret(tmp_path: Path) -> None:
    path = _key_path(tmp_path)
    provider = KeyFileProvider.open_or_create(path)
    path.unlink()
    KeyFileProvider.open_or_create(path)  # a different root secret now

    with pytest.raises(KeyFileError, match="root secret"):
        provider.rotate()


def _valid_doc(tmp_path: Path) -> Any:
    path = tmp_path / "valid" / "keys.json"
    KeyFileProvider.open_or_create(path)
    return _doc(path)


def _malformed_documents(valid: Any) -> list[bytes]:
    short_root = {**valid, "root_secret": base64.b64encode(b"short").decode()}
    unknown_current = {**valid, "current_kek": "kek-ffffffff"}
    no_keks = {**valid, "keks": []}
    bad_base64 = {**valid, "root_secret": "not base64!"}
    future_format = {**valid, "format": 2}
    duplicate_keks = {**valid, "keks": valid["keks"] * 2}
    kek_as_number = {**valid, "keks": [{**valid["keks"][0], "key": 7}]}
    missing_root = {key: value for key, value in valid.items() if key != "root_secret"}
    documents: list[Any] = [
        short_root,
        unknown_current,
        no_keks,
        bad_base64,
        future_format,
        duplicate_keks,
        kek_as_number,
        missing_root,
        [],
        "keys",
    ]
    return [b"", b"not json", b"\xff\xfe"] + [json.dumps(doc).encode() for doc in documents]


def test_malformed_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    for content in _malformed_documents(_valid_doc(tmp_path)):
        path.write_bytes(content)
        os.chmod(path, 0o600)
        with pytest.raises(KeyFileError, match="malformed"):
            KeyFileProvider.open_or_create(path)


def test_malformed_key_file_error_does_not_quote_the_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_bytes(b'{"root_secret": "c2VjcmV0LWJ5dGVz", oops}')
    os.chmod(path, 0o600)

    with pytest.raises(KeyFileError) as caught:
        KeyFileProvider.open_or_create(path)

    assert "c2VjcmV0" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_a_directory_is_not_a_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.mkdir(mode=0o700)

    with pytest.raises(KeyFileError, match="not a regular file"):
        KeyFileProvider.open_or_create(path)


def test_purpose_keys_differ_per_purpose_and_are_stable_across_reopen(tmp_path: Path) -> None:
    path = _key_path(tmp_path)
    provider = KeyFileProvider.open_or_create(path)

    keys = {purpose: provider.purpose_key(purpose) for purpose in Purpose}
    reopened = KeyFileProvider.open_or_create(path)

    assert len(set(keys.values())) == len(Purpose)
    assert all(len(key) == 32 for key in keys.values())
    assert {purpose: reopened.purpose_key(purpose) for purpose in Purpose} == keys


def test_purpose_keys_differ_between_key_files(tmp_path: Path) -> None:
    one = KeyFileProvider.open_or_create(tmp_path / "one" / "keys.json")
    two = KeyFileProvider.open_or_create(tmp_path / "two" / "keys.json")

    assert one.purpose_key(Purpose.BLIND_INDEX) != two.purpose_key(Purpose.BLIND_INDEX)


def test_purpose_key_is_hkdf_of_root_with_versioned_label(tmp_path: Path) -> None:
    path = _key_path(tmp_path)
    provider = KeyFileProvider.open_or_create(path)
    root = _secrets_in(path)[0]

    expected = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"hearth/v1/checkpoint-signing"
    ).derive(root)

    assert provider.purpose_key(Purpose.CHECKPOINT_SIGNING) == expected


def test_purpose_keys_survive_rotation(tmp_path: Path) -> None:
    provider = KeyFileProvider.open_or_create(_key_path(tmp_path))
    before = provider.purpose_key(Purpose.TOKEN_HASHING)

    provider.rotate()

    assert provider.purpose_key(Purpose.TOKEN_HASHING) == before


def test_repr_shows_no_key_material(tmp_path: Path) -> None:
    path = _key_path(tmp_path)
    provider = KeyFileProvider.open_or_create(path)
    provider.rotate()
    wrapped = provider.wrap(b"d" * 32, context=CONTEXT)
    purpose_keys = [provider.purpose_key(purpose) for purpose in Purpose]

    shown = repr(provider) + str(provider) + repr(wrapped)

    assert provider.current_kek_id in shown
    for secret in [*_secrets_in(path), *purpose_keys, wrapped.blob]:
        for rendering in (secret.hex(), base64.b64encode(secret).decode(), repr(secret)):
            assert rendering not in shown
