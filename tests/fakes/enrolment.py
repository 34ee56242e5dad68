"""In-memory fakes of the enrolment ports, for fast unit tests of the rules."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime

from domain.enrolment import AppInstallation, EnrolmentCode
from domain.ids import (
    ParticipantId,
)


class FakeEnrolment:
    def __init__(self) -> None:
        self.codes: dict[bytes, EnrolmentCode] = {}
        self.installations: dict[uuid.UUID, tuple[AppInstallation, datetime | None]] = {}

    async def add_code(self, code: EnrolmentCode, digest: bytes) -> None:
        self.codes[digest] = code

    async def void_codes(self, participant_id: ParticipantId, now: datetime) -> None:
        for digest, code in self.codes.items():
            if code.participant_id == participant_id and code.used_at is None:
                self.codes[digest] = dataclasses.replace(code, used_at=now)

    async def find_code(self, digest: bytes) -> EnrolmentCode | None:
        return self.codes.get(digest)

    async def use_code(self, code_id: uuid.UUID, now: datetime) -> bool:
        for digest, code in self.codes.items():
            if code.id == code_id and code.used_at is None:
                self.codes[digest] = dataclasses.replace(code, used_at=now)
                return True
        return False

    async def add_installation(self, installation: AppInstallation) -> None:
        self.installations[installation.id] = (installation, None)

    async def unpair_all(self, participant_id: ParticipantId, now: datetime) -> int:
        live = [
            i
            for i, (inst, gone) in self.installations.items()
            if inst.participant_id == participant_id and gone is None
        ]
        for key in live:
            self.installations[key] = (self.installations[key][0], now)
        return len(live)
