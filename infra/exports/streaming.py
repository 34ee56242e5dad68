"""What every format writes with: files written once front to back, hashed and counted as they
go; temporary spools for parts whose header needs counts known only at the end; batched
progress."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from infra.exports.model import Progress, WrittenFile

COPY_CHUNK = 1 << 20


@dataclass
class OutputFile:
    """A UTF-8 file written once, front to back, hashed and counted as it goes."""

    path: Path
    rows: int = 0
    size: int = 0
    _digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    _handle: IO[bytes] | None = None

    def __enter__(self) -> OutputFile:
        # Readable by the server's user only: exports hold a whole study's data.
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._handle = os.fdopen(descriptor, "wb")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            self._handle.close()

    def write(self, text: str, *, rows: int = 0) -> None:
        """Append `text`; `rows` says how many data rows (lines, resources, records) it holds."""
        self.write_bytes(text.encode("utf-8"), rows=rows)

    def write_bytes(self, data: bytes, *, rows: int = 0) -> None:
        assert self._handle is not None, "use OutputFile as a context manager"
        self._handle.write(data)
        self._digest.update(data)
        self.size += len(data)
        self.rows += rows

    def copy_from(self, spool: IO[bytes]) -> None:
        """Append a spool's whole content (see `spool`)."""
        spool.seek(0)
        while chunk := spool.read(COPY_CHUNK):
            self.write_bytes(chunk)

    def written(self, directory: Path) -> WrittenFile:
        return WrittenFile(
            name=self.path.relative_to(directory).as_posix(),
            rows=self.rows,
            bytes=self.size,
            sha256=self._digest.hexdigest(),
        )


def spool(directory: Path) -> IO[bytes]:
    """An anonymous temporary file beside the export (never listed: it has no name), for a
    part that must follow a header written last, such as ODM's clinical data after AdminData."""
    return tempfile.TemporaryFile("w+b", dir=directory)


class Buffer:
    """Strings collected and written in large pieces; rows reported to `progress` per flush."""

    def __init__(
        self, target: OutputFile | IO[bytes], progress: Progress | None, limit: int = 4096
    ) -> None:
        self._target = target
        self._progress = progress
        self._limit = limit
        self.parts: list[str] = []
        self.rows = 0  # all rows added so far
        self._pending = 0

    def add(self, text: str, rows: int = 0) -> None:
        self.parts.append(text)
        self.rows += rows
        self._pending += rows
        if len(self.parts) >= self._limit:
            self.flush()

    def extend(self, texts: list[str], rows: int) -> None:
        self.parts.extend(texts)
        self.rows += rows
        self._pending += rows
        if len(self.parts) >= self._limit:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            data = "".join(self.parts).encode("utf-8")
            self.parts.clear()
            if isinstance(self._target, OutputFile):
                self._target.write_bytes(data, rows=self._pending)
            else:
                self._target.write(data)
        if self._pending and self._progress is not None:
            self._progress(self._pending)
        self._pending = 0
