"""What the worker's tasks are given: units of work, the export engine, where files go and
where webhook outcomes are counted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from domain.ports import ExportEngine, UnitOfWorkFactory
from domain.services.webhook_deliveries import DeliveryObserver


@dataclass(frozen=True)
class WorkerServices:
    uows: UnitOfWorkFactory
    exports: ExportEngine
    export_root: Path  # HEARTH_EXPORT_DIR: shared with the server, which serves the files
    export_retention: timedelta
    webhook_outcomes: DeliveryObserver | None = None  # every try's outcome (metrics)

    def export_directory(self, export_id: object) -> str:
        return str(self.export_root / str(export_id))
