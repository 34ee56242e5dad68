"""What the worker's tasks are given: units of work, the export engine and where files go."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from domain.notifications import Channel
from domain.ports import ExportEngine, UnitOfWorkFactory


@dataclass(frozen=True)
class WorkerServices:
    uows: UnitOfWorkFactory
    exports: ExportEngine
    export_root: Path  # HEARTH_EXPORT_DIR: shared with the server, which serves the files
    export_retention: timedelta
    alert_mail: Channel | None = None  # e-mail to site staff; None: alerts are not e-mailed
    console_url: str | None = None  # linked from the alert e-mails

    def export_directory(self, export_id: object) -> str:
        return str(self.export_root / str(export_id))
