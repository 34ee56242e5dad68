"""Typed identifiers: one NewType per entity so ids of different kinds never mix."""

from __future__ import annotations

import os
import time
import uuid
from typing import NewType

StudyId = NewType("StudyId", uuid.UUID)
SiteId = NewType("SiteId", uuid.UUID)
ParticipantId = NewType("ParticipantId", uuid.UUID)
UserId = NewType("UserId", uuid.UUID)
EventId = NewType("EventId", uuid.UUID)
ArmId = NewType("ArmId", uuid.UUID)
VisitDefinitionId = NewType("VisitDefinitionId", uuid.UUID)
VisitId = NewType("VisitId", uuid.UUID)
ConsentVersionId = NewType("ConsentVersionId", uuid.UUID)
SignatureId = NewType("SignatureId", uuid.UUID)
DataQueryId = NewType("DataQueryId", uuid.UUID)
DeviceId = NewType("DeviceId", uuid.UUID)


def new_id() -> uuid.UUID:
    """A UUIDv7: time-ordered, so new rows land at the end of B-tree indexes."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)
