"""What the worker's tasks are given: units of work, the export engine, where files go,
where webhook outcomes are counted and the channels reminders go out through."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from domain.notifications import Channel
from domain.ports import ExportEngine, UnitOfWorkFactory
from domain.services.webhook_deliveries import DeliveryObserver


@dataclass(frozen=True)
class WorkerServices:
    uows: UnitOfWorkFactory
    exports: ExportEngine
    export_root: Path  # HEARTH_EXPORT_DIR: shared with the server, which serves the files
    export_retention: timedelta
    webhook_outcomes: DeliveryObserver | None = None  # every try's outcome (metrics)
    # The configured reminder channels by name ("webpush", "email"); none: nothing is sent.
    channels: Mapping[str, Channel] = field(default_factory=dict)
    alert_mail: Channel | None = None  # e-mail to site staff; None: alerts are not e-mailed
    console_url: str | None = None  # linked from the alert e-mails
    webhook_allow_private: bool = False  # HEARTH_WEBHOOK_ALLOW_PRIVATE: inside addresses too

    def export_directory(self, export_id: object) -> str:
        return str(self.export_root / str(export_id))
