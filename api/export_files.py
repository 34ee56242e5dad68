"""Where export files live: the directory the worker writes and the server reads."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ExportFiles:
    """Where the worker writes export files, which the server serves (one machine, one
    HEARTH_EXPORT_DIR), and the key that verifies their manifests."""

    root: Path
    public_key_pem: str
    per_study: int = 3  # exports of a study queued or running at once

    def directory(self, job_id: uuid.UUID) -> Path:
        return self.root / str(job_id)
