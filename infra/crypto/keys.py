"""Key-encryption keys (KEKs) and per-purpose keys, kept in a 0600 file outside the database."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from infra.crypto.envelope import DecryptionError

KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_FILE_FORMAT = 1
_PRIVATE_FILE = 0o600
_PRIVATE_DIR = 0o700


class Purpose(StrEnum):
    # The values are part of the HKDF labels: changing one changes every key derived from it.
    BLIND_INDEX = "blind-index"
    TOKEN_SIGNING = "token-signing"  # noqa: S105 - a label, not a secret
    CHECKPOINT_SIGNING = "checkpoint-signing"
    EXPORT_SIGNING = "export-signing"
    TOKEN_HASHING = "token-hashing"  # noqa: S105 - a label, not a secret
    FINGERPRINT = "fingerprint"  # only ever hashed: names the root secret without revealing it


@dataclass(frozen=True)
class WrappedKey:
    """A data key encrypted under the KEK named by `kek_id`."""

    kek_id: str
    blob: bytes = field(repr=False)


class KeyFileError(Exception):
    """The key file is missing, malformed, or not private to its owner."""


class UnwrapError(DecryptionError):
    """A wrapped key could not be unwrapped: unknown KEK, wrong context, or tampered blob."""


class KeyProvider(Protocol):
    """What a local key file, a cloud KMS or a Vault transit engine all offer."""

    @property
    def current_kek_id(self) -> str:
        """The KEK that `wrap` uses."""
        ...

    def wrap(self, key: bytes, *, context: bytes) -> WrappedKey:
        """Encrypt a data key under the current KEK, bound to `context`."""
        ...

    def unwrap(self, wrapped: WrappedKey, *, context: bytes) -> bytes:
        """Decrypt a data key with the KEK it names; `context` must match the one used to wrap."""
        ...

    def purpose_key(self, purpose: Purpose) -> bytes:
        """The 32-byte key for one purpose; stable for the life of the root secret."""
        ...

    def rotate(self) -> str:
        """Make a new KEK current, keeping the old ones for unwrapping; returns its id."""
        ...


def fingerprint(provider: KeyProvider) -> str:
    """Names the provider's root secret (so its purpose keys) without revealing anything."""
    return hashlib.sha256(provider.purpose_key(Purpose.FINGERPRINT)).hexdigest()


def derive_purpose_key(root_secret: bytes, purpose: Purpose) -> bytes:
    """HKDF-SHA256 of the root secret with the label b"hearth/v1/<purpose>"."""
    label = f"hearth/v1/{Purpose(purpose).value}".encode("ascii")
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=label).derive(
        root_secret
    )


@dataclass(frozen=True, repr=False)
class _Kek:
    id: str
    key: bytes
    created_at: str


@dataclass(frozen=True, repr=False)
class _KeyFile:
    """The file's contents; immutable so a rotation swaps it in a single assignment."""

    root_secret: bytes
    keks: Mapping[str, _Kek]
    current: str

    def with_kek(self, kek: _Kek) -> _KeyFile:
        return _KeyFile(self.root_secret, {**self.keks, kek.id: kek}, kek.id)


class KeyFileProvider:
    """A `KeyProvider` backed by a local JSON key file with mode 0600."""

    def __init__(self, path: Path, contents: _KeyFile, *, saved: bool = True) -> None:
        """Use `open_or_create` or `open_or_new`; this only stores what it has already read and
        checked (or, not `saved`, made in memory)."""
        self._path = path
        self._contents = contents
        self._saved = saved
        self._seen = _stamp(path) if saved else (0, 0, 0)

    @classmethod
    def open_or_create(cls, path: Path) -> KeyFileProvider:
        """Open the key file, creating it (and a 0700 parent directory) on first run."""
        path = Path(path)
        if not path.exists():
            _create(path)
        return cls(path, _read(path))

    @classmethod
    def open_or_new(cls, path: Path) -> KeyFileProvider:
        """Open the key file; if there is none, new keys held in memory until `save`.

        Whether new keys may be written at all is the database's to say (an installation
        with data must never silently get new keys), so creating the file is a separate step.
        """
        path = Path(path)
        if path.exists():
            return cls(path, _read(path))
        return cls(path, _new_contents(), saved=False)

    @property
    def saved(self) -> bool:
        """False while the keys exist only in memory (there was no key file)."""
        return self._saved

    def save(self) -> None:
        """Write new keys to the (missing) key file; if another process wrote one first, use
        that one instead."""
        if self._saved:
            return
        _ensure_private_dir(self._path.parent)
        with contextlib.suppress(FileExistsError):
            _write(self._path, _serialise(self._contents), replace=False)
        self._contents, self._saved = _read(self._path), True
        self._seen = _stamp(self._path)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def current_kek_id(self) -> str:
        return self._contents.current

    @property
    def kek_ids(self) -> tuple[str, ...]:
        """Every KEK still held, oldest first."""
        return tuple(self._contents.keks)

    def wrap(self, key: bytes, *, context: bytes) -> WrappedKey:
        # A rotation by another process (`hearth keys rotate` beside a running server) must
        # take effect for new keys too, so look at the file's stamp before wrapping.
        if self._saved and _stamp(self._path) != self._seen:
            self._contents = self._checked_reload()
        kek = self._contents.keks[self._contents.current]
        nonce = os.urandom(_NONCE_BYTES)
        return WrappedKey(kek.id, nonce + AESGCM(kek.key).encrypt(nonce, key, context))

    def unwrap(self, wrapped: WrappedKey, *, context: bytes) -> bytes:
        kek = self._kek(wrapped.kek_id)
        blob = wrapped.blob
        if len(blob) < _NONCE_BYTES + _TAG_BYTES:
            raise UnwrapError("cannot unwrap key")
        try:
            return AESGCM(kek.key).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], context)
        except InvalidTag:
            raise UnwrapError("cannot unwrap key") from None

    def purpose_key(self, purpose: Purpose) -> bytes:
        return derive_purpose_key(self._contents.root_secret, purpose)

    def rotate(self) -> str:
        """Add a new KEK and make it current; older KEKs are kept so old wrapped keys still open."""
        if not self._saved:
            raise KeyFileError(f"no key file at {self._path}")
        # Under the lock, start from what is on disk: another process may have rotated since we
        # opened the file, and writing our stale copy back would destroy its KEK.
        with _exclusive_lock(self._path):
            on_disk = self._checked_reload()
            kek = _new_kek(taken=on_disk.keks)
            updated = on_disk.with_kek(kek)
            _write(self._path, _serialise(updated), replace=True)
            self._contents = updated
            self._seen = _stamp(self._path)
        return kek.id

    def __repr__(self) -> str:
        # Never show key material, however this object ends up in a log or traceback.
        return (
            f"KeyFileProvider(path={str(self._path)!r}, "
            f"current_kek_id={self._contents.current!r}, keks={len(self._contents.keks)})"
        )

    def _kek(self, kek_id: str) -> _Kek:
        kek = self._contents.keks.get(kek_id)
        if kek is None and self._saved:
            # Another process may have rotated since we opened the file: look once more.
            self._contents = self._checked_reload()
            kek = self._contents.keks.get(kek_id)
        if kek is None:
            raise UnwrapError(f"unknown key-encryption key {kek_id!r}")
        return kek

    def _checked_reload(self) -> _KeyFile:
        self._seen = _stamp(self._path)
        on_disk = _read(self._path)
        if not hmac.compare_digest(on_disk.root_secret, self._contents.root_secret):
            raise KeyFileError(f"the root secret in {self._path} has changed")
        if not self._contents.keks.keys() <= on_disk.keks.keys():
            raise KeyFileError(f"key-encryption keys have been removed from {self._path}")
        return on_disk


def _stamp(path: Path) -> tuple[int, int, int]:
    status = path.stat()
    return status.st_mtime_ns, status.st_size, status.st_ino


def _new_contents() -> _KeyFile:
    kek = _new_kek(taken={})
    return _KeyFile(os.urandom(KEY_BYTES), {kek.id: kek}, kek.id)


def _create(path: Path) -> None:
    _ensure_private_dir(path.parent)
    contents = _new_contents()
    # If another process created the file first, keep its keys and use them.
    with contextlib.suppress(FileExistsError):
        _write(path, _serialise(contents), replace=False)


def _ensure_private_dir(directory: Path) -> None:
    try:
        directory.mkdir(mode=_PRIVATE_DIR, parents=True)
    except FileExistsError:
        return
    os.chmod(directory, _PRIVATE_DIR)  # mkdir's mode is filtered by the umask


def _new_kek(*, taken: Mapping[str, _Kek]) -> _Kek:
    kek_id = f"kek-{secrets.token_hex(4)}"
    while kek_id in taken:
        kek_id = f"kek-{secrets.token_hex(4)}"
    created_at = datetime.now(UTC).isoformat(timespec="seconds")
    return _Kek(kek_id, os.urandom(KEY_BYTES), created_at)


def _read(path: Path) -> _KeyFile:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise KeyFileError(f"cannot open key file {path}: {exc.strerror}") from None
    try:
        # Check the file we actually opened, not whatever the path names a moment later.
        _check_private(os.fstat(fd), path)
    except KeyFileError:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        raw = handle.read()
    try:
        return _parse(raw)
    except (ValueError, KeyError, TypeError):
        # `from None`: a parser message could quote the file, and the file holds keys.
        raise KeyFileError(f"key file {path} is malformed") from None


def _check_private(status: os.stat_result, path: Path) -> None:
    if not stat.S_ISREG(status.st_mode):
        raise KeyFileError(f"key file {path} is not a regular file")
    mode = stat.S_IMODE(status.st_mode)
    if mode & 0o077:
        raise KeyFileError(
            f"key file {path} has mode {mode:04o}; it must not be readable or writable by "
            f"group or others (chmod 600 {path})"
        )


def _parse(raw: bytes) -> _KeyFile:
    """The file's contents; raises ValueError, KeyError or TypeError if malformed."""
    doc: Any = json.loads(raw)
    if doc["format"] != _FILE_FORMAT:
        raise ValueError("unknown key file format")
    keks = {kek.id: kek for kek in map(_parse_kek, doc["keks"])}
    if len(keks) != len(doc["keks"]) or doc["current_kek"] not in keks:
        raise ValueError("inconsistent key-encryption keys")
    return _KeyFile(_decode_key(doc["root_secret"]), keks, doc["current_kek"])


def _parse_kek(entry: Any) -> _Kek:
    kek_id, created_at = entry["id"], entry["created_at"]
    if not isinstance(kek_id, str) or not kek_id or not isinstance(created_at, str):
        raise TypeError("malformed key-encryption key")
    return _Kek(kek_id, _decode_key(entry["key"]), created_at)


def _decode_key(text: Any) -> bytes:
    if not isinstance(text, str):
        raise TypeError("keys are base64 strings")
    key = base64.b64decode(text, validate=True)  # binascii.Error is a ValueError
    if len(key) != KEY_BYTES:
        raise ValueError("keys are 32 bytes")
    return key


def _serialise(contents: _KeyFile) -> bytes:
    doc = {
        "format": _FILE_FORMAT,
        "root_secret": base64.b64encode(contents.root_secret).decode("ascii"),
        "current_kek": contents.current,
        "keks": [
            {
                "id": kek.id,
                "key": base64.b64encode(kek.key).decode("ascii"),
                "created_at": kek.created_at,
            }
            for kek in contents.keks.values()
        ],
    }
    return json.dumps(doc, indent=2).encode("utf-8") + b"\n"


def _write(path: Path, data: bytes, *, replace: bool) -> None:
    """Write via a 0600 temp file in the same directory, so readers never see a partial file."""
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), _PRIVATE_FILE)  # mkstemp's default, but made explicit
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temp, path)
        else:
            # link() fails if the path exists, so two first runs cannot overwrite each other.
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable, not just the file's contents.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    # A sidecar lock file: the key file itself is replaced on every write, so it cannot be locked.
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, _PRIVATE_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
