"""Participants' measuring devices: registered at a site, assigned to one participant."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

from domain import values
from domain.errors import DomainError, ErrorCode, Invalid
from domain.ids import DeviceId, ParticipantId, SiteId, StudyId, new_id
from domain.readings import Reading, ReadingKind


@dataclass(frozen=True)
class Device:
    ENTITY: ClassVar[str] = "Device"
    # A serial number identifies the device and, through it, whoever holds it (HIPAA).
    PERSONAL: ClassVar[frozenset[str]] = frozenset({"serial"})
    REASON_REQUIRED: ClassVar[bool] = False

    id: DeviceId
    study_id: StudyId
    site_id: SiteId
    kinds: tuple[ReadingKind, ...]
    model: str
    serial: str
    registered_at: datetime
    participant_id: ParticipantId | None = None
    assigned_at: datetime | None = None
    version: int = 1

    @classmethod
    def register(
        cls,
        *,
        study_id: StudyId,
        site_id: SiteId,
        kinds: tuple[ReadingKind, ...],
        model: str,
        serial: str,
        now: datetime,
    ) -> Device:
        if not kinds:
            raise Invalid("kinds", "Name at least one kind of reading the device takes.")
        return cls(
            id=DeviceId(new_id()),
            study_id=study_id,
            site_id=site_id,
            kinds=tuple(dict.fromkeys(kinds)),
            model=values.text(model, "model", max_length=100),
            serial=values.text(serial, "serial", max_length=100),
            registered_at=now,
        )

    def assigned(self, participant_id: ParticipantId, now: datetime) -> Device:
        if self.participant_id is not None and self.participant_id != participant_id:
            raise DomainError(
                ErrorCode.INVALID_TRANSITION,
                "Unassign the device from its participant first.",
                field="device_id",
            )
        return dataclasses.replace(
            self, participant_id=participant_id, assigned_at=now, version=self.version + 1
        )

    def unassigned(self) -> Device:
        return dataclasses.replace(
            self, participant_id=None, assigned_at=None, version=self.version + 1
        )

    def accepts(self, participant_id: uuid.UUID, kind: ReadingKind) -> bool:
        return self.participant_id == participant_id and kind in self.kinds


@dataclass(frozen=True)
class Assignment:
    """A device in one participant's hands from `since` until `until` (None: still)."""

    device: Device
    participant_id: ParticipantId
    since: datetime
    until: datetime | None = None

    def covers(self, reading: Reading) -> bool:
        """The reading is this participant's: their device, a kind it takes, taken while
        they held it (a device passed on keeps the earlier holder's readings theirs)."""
        moment = reading.effective_start
        return (
            reading.kind in self.device.kinds
            and self.since <= moment
            and (self.until is None or moment < self.until)
        )


@dataclass(frozen=True)
class StoredReading:
    """A reading as kept: who, which device, when received, and whether it was deleted."""

    ENTITY: ClassVar[str] = "Reading"
    PERSONAL: ClassVar[frozenset[str]] = frozenset()
    REASON_REQUIRED: ClassVar[bool] = True

    id: uuid.UUID
    participant_id: ParticipantId
    device_id: DeviceId
    study_id: StudyId
    site_id: SiteId
    reading: Reading
    received_at: datetime
    clock_skewed: bool
    batch_id: uuid.UUID
    deleted_at: datetime | None = None
    deleted_reason: str | None = None
    version: int = 1

    def deleted(self, reason: str, now: datetime) -> StoredReading:
        """Deletes are logical: the row stays, flagged, with its reason."""
        if self.deleted_at is not None:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "The reading was deleted already.")
        return dataclasses.replace(
            self, deleted_at=now, deleted_reason=reason, version=self.version + 1
        )


@dataclass(frozen=True)
class DailySummary:
    day: date  # in the participant's time zone
    kind: ReadingKind
    component: str
    unit: str
    count: int
    minimum: Decimal
    maximum: Decimal
    mean: Decimal
