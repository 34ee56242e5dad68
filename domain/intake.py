"""One intake for batches judged item by item: diary entries and device readings.

Each item of a batch ends ACCEPTED, DUPLICATE (a resend: nothing changes), QUARANTINED (kept
for review, not counted) or REJECTED, with a stable code unless simply accepted. This module
owns what both kinds of batch share: the outcomes and the limits on a batch's size, so the API
only parses input and the use cases apply one rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.errors import DomainError, ErrorCode


class Outcome(StrEnum):
    ACCEPTED = "ACCEPTED"
    DUPLICATE = "DUPLICATE"
    QUARANTINED = "QUARANTINED"
    REJECTED = "REJECTED"


@dataclass(frozen=True)
class BatchLimit:
    """How many items one call may carry; more is refused whole, before any item is judged."""

    size: int
    noun: str  # what the items are called in the message
    field: str  # the input field the error names

    def check(self, count: int) -> None:
        if count > self.size:
            raise DomainError(
                ErrorCode.VALIDATION_FAILED,
                f"Send at most {self.size} {self.noun} at a time.",
                field=self.field,
            )


DIARY_ENTRIES = BatchLimit(200, "entries", "entries")
READINGS = BatchLimit(50_000, "readings", "items")
