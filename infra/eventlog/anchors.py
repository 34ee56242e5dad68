"""Checkpoints outside the database: a directory operators ship elsewhere, and trusted copies.

The integrator writes every checkpoint it seals as a signed note file,
`<directory>/<log>/<tree size>.checkpoint` (`<log>` is `installation`, `legacy` or
`study-<id>`). Whoever keeps a copy where the database owner cannot reach it can later prove,
with `hearth audit verify --trusted <copy>`, that today's log still extends those checkpoints.
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.eventlog.checkpoints import Checkpoint, SignedCheckpoint
from infra.eventlog.logs import Log
from infra.eventlog.notes import MalformedNote

SUFFIX = ".checkpoint"
log = logging.getLogger("hearth.anchors")


class CheckpointDirectory:
    """Where sealed checkpoints are published, one file each."""

    def __init__(self, path: Path, installation: uuid.UUID) -> None:
        self.path = path
        self._installation = installation

    def publish(self, sealed: Sequence[Checkpoint]) -> None:
        """Write each checkpoint's note; a failure is logged, never fatal to sealing."""
        for checkpoint in sealed:
            try:
                self._write(checkpoint)
            except OSError:
                log.exception("could not publish checkpoint %s", checkpoint.tree_size)

    def _write(self, checkpoint: Checkpoint) -> None:
        if checkpoint.note is None:
            return
        folder = self.path / Log(self._installation, checkpoint.log_id).short_name
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{checkpoint.tree_size}{SUFFIX}"
        # Readers (rsync, a shipper) never see half a file: write aside, then rename.
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(checkpoint.note)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)  # public: signed statements, nothing secret
        os.replace(temp, target)


@dataclass(frozen=True)
class Trusted:
    """A checkpoint read from a trusted file, or why the file could not be read."""

    source: Path
    checkpoint: SignedCheckpoint | None
    problem: str | None = None
    strict: bool = True  # False: the local checkpoint directory, where leftovers are skipped


def read_trusted(locations: Iterable[Path], *, strict: bool = True) -> list[Trusted]:
    """Every checkpoint file at these paths (a file, or a directory searched recursively).

    Not strict (the installation's own directory): a missing directory and files of other
    installations are no problem, only a malformed or forged file is.
    """
    found: list[Trusted] = []
    for location in locations:
        if location.is_dir():
            found += [_read(p, strict) for p in sorted(location.rglob(f"*{SUFFIX}"))]
        elif location.exists():
            found.append(_read(location, strict))
        elif strict:
            found.append(Trusted(location, None, "no such file or directory"))
    return found


def _read(path: Path, strict: bool) -> Trusted:
    try:
        checkpoint = SignedCheckpoint.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, MalformedNote) as error:
        return Trusted(path, None, f"not a readable checkpoint ({error})", strict)
    return Trusted(path, checkpoint, None, strict)
