"""Participants' measuring devices: registered at a site, assigned to one participant."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from domain import values
from domain.errors import DomainError, ErrorCode, Invalid
from domain.ids import DeviceId, ParticipantId, SiteId, StudyId, new_id
from domain.intake import ItemCode
from domain.participants import Participant
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
        return reading.kind in self.device.kinds and self.held(reading)

    def held(self, reading: Reading) -> bool:
        """Whether the reading was taken during this period (at its effective start)."""
        moment = reading.effective_start
        return self.since <= moment and (self.until is None or moment < self.until)


# Why a reading is not simply its sender's: the batch intake's per-item codes.
DeviceCode = ItemCode


def attribute(
    reading: Reading,
    participant: Participant,
    device: Device | None,
    periods: Sequence[Assignment],
) -> DeviceCode | None:
    """Whose reading this is; None: the sender's (they held the device at its effective time).

    `periods` are the device's assignment periods, to anyone. A reading from a device of the
    participant's site that nobody held at that moment (taken before the assignment was
    recorded, in a gap between two assignments, or after it was handed back) is quarantined
    for the site to accept or reject; one taken while someone else held it is theirs, never
    the sender's.
    """
    if device is None or (device.study_id, device.site_id) != (
        participant.study_id,
        participant.site_id,
    ):
        return DeviceCode.UNKNOWN_DEVICE
    holders = {p.participant_id for p in periods if p.device.id == device.id and p.held(reading)}
    if holders - {participant.id}:
        return DeviceCode.DEVICE_NOT_ASSIGNED
    if reading.kind not in device.kinds:
        return DeviceCode.KIND_NOT_SUPPORTED
    return None if participant.id in holders else DeviceCode.OUTSIDE_ASSIGNMENT


class ReadingStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    QUARANTINED = "QUARANTINED"  # kept for the site to review; not analysis data
    REJECTED = "REJECTED"  # rejected on review: kept, flagged, out of analyses


@dataclass(frozen=True)
class StoredReading:
    """A reading as kept: who, which device, when received, its review, whether deleted."""

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
    status: ReadingStatus = ReadingStatus.ACCEPTED
    quarantine_code: str | None = None  # a DeviceCode or consent code; kept after review
    consent_superseded: bool = False  # collected under a consent version since replaced
    reviewed_at: datetime | None = None
    reviewed_by: uuid.UUID | None = None
    review_reason: str | None = None
    version: int = 1

    def deleted(self, reason: str, now: datetime) -> StoredReading:
        """Deletes are logical: the row stays, flagged, with its reason."""
        if self.deleted_at is not None:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "The reading was deleted already.")
        return dataclasses.replace(
            self, deleted_at=now, deleted_reason=reason, version=self.version + 1
        )

    def reviewed(
        self, status: ReadingStatus, *, reason: str, by: uuid.UUID, now: datetime
    ) -> StoredReading:
        """The site's decision on a quarantined reading: accepted into the data, or rejected."""
        if self.status is not ReadingStatus.QUARANTINED:
            raise DomainError(
                ErrorCode.INVALID_TRANSITION,
                "Only quarantined readings are accepted or rejected.",
                field="reading_id",
            )
        return dataclasses.replace(
            self,
            status=status,
            reviewed_at=now,
            reviewed_by=by,
            review_reason=reason,
            version=self.version + 1,
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
