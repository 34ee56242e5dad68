"""Which log an event belongs to, and what each log is called.

Every study has a log of its own; staff and security events (no study) go to the
installation's log. The single log from before per-study logs is kept, closed, as the
legacy log. A log's name, its origin, is also the name of the key that signs its
checkpoints (C2SP tlog-checkpoint: the key name should match the origin line).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

# RFC 9562's Nil and Max UUIDs: never a study's id.
INSTALLATION_LOG = uuid.UUID(int=0)
LEGACY_LOG = uuid.UUID(int=(1 << 128) - 1)


def log_of(study_id: uuid.UUID | None) -> uuid.UUID:
    """The log an event about `study_id` (or about no study) goes to."""
    return study_id if study_id is not None else INSTALLATION_LOG


@dataclass(frozen=True)
class Log:
    """One log of one installation."""

    installation: uuid.UUID
    id: uuid.UUID

    @property
    def kind(self) -> str:
        if self.id == INSTALLATION_LOG:
            return "installation"
        return "legacy" if self.id == LEGACY_LOG else "study"

    @property
    def short_name(self) -> str:
        """`installation`, `legacy` or `study-<uuid>`: for file names and messages."""
        return self.kind if self.kind != "study" else f"study-{self.id}"

    @property
    def origin(self) -> str:
        """The checkpoints' origin line, e.g. `hearth/<installation>/study/<study id>`."""
        base = f"hearth/{self.installation}"
        return f"{base}/study/{self.id}" if self.kind == "study" else f"{base}/{self.kind}"

    @classmethod
    def from_origin(cls, origin: str) -> Log | None:
        """The log an origin line names, or None if it is not one of Hearth's."""
        parts = origin.split("/")
        try:
            installation = uuid.UUID(parts[1]) if parts[0] == "hearth" else None
            if installation is None:
                return None
            if parts[2:] == ["installation"]:
                return cls(installation, INSTALLATION_LOG)
            if parts[2:] == ["legacy"]:
                return cls(installation, LEGACY_LOG)
            if len(parts) == 4 and parts[2] == "study":
                return cls(installation, uuid.UUID(parts[3]))
        except (IndexError, ValueError):
            return None
        return None
