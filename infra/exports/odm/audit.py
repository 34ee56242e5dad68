"""Audit records for one subject's clinical data: who acted (as ODM users), where, when, and the
event-log id; and the Insert/Update/Remove transactions of an ItemGroupData, in log order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from infra.exports.model import Event, RecordSignature, Subject
from infra.exports.odm.admin import Admin
from infra.exports.odm.catalog import Catalog, Column
from infra.exports.odm.text import USR_SYSTEM, USR_UNKNOWN, esc, stamp

Entity = tuple[str, uuid.UUID]  # (entity type, entity id) as the event log names a record


@dataclass(frozen=True)
class Tx:
    event: Event | None
    kind: str  # Insert, Update or Remove
    value: str | None


def transactions(
    history: Sequence[tuple[Event, object]],
    current: str | None,
    column: Column,
    origin: Event | None,
) -> list[Tx]:
    """The Insert/Update/Remove sequence that ends in `current`.

    `history` holds the logged values in event order; the last transaction takes the record's
    value, so the replay always ends in the snapshot's state.
    """
    if not history:
        return [] if current is None else [Tx(origin, "Insert", current)]
    values = [column.convert(raw) for _, raw in history[:-1]] + [current]
    found: list[Tx] = []
    previous: str | None = None
    for (event, _), value in zip(history, values, strict=True):
        if value is None:
            if previous is not None:
                found.append(Tx(event, "Remove", None))
        elif previous is None:
            found.append(Tx(event, "Insert", value))
        elif column.always_update or value != previous:
            found.append(Tx(event, "Update", value))
        previous = value
    return found


class SubjectAudit:
    """One subject's events by record, rendered as AuditRecords (each once)."""

    def __init__(self, catalog: Catalog, admin: Admin, subject: Subject) -> None:
        self.catalog = catalog
        self.admin = admin
        self.subject = subject
        self.info = subject.info
        self.key = esc(subject.info.subject_id)
        self._participant_user: str | None = None
        self._records: dict[uuid.UUID, str] = {}
        self.by_entity: dict[Entity, list[Event]] = {}
        for event in subject.events:
            self.by_entity.setdefault((event.entity_type, event.entity_id), []).append(event)

    # users and locations

    def participant(self) -> str:
        if self._participant_user is None:
            self._participant_user = f"USR.SUBJECT.{self.key}"
            user = f'<User OID="{self._participant_user}" UserType="Other"/>\n'
            self.admin.participants.write(user.encode("utf-8"))
        return self._participant_user

    def actor(self, kind: str, actor_id: uuid.UUID | None) -> str:
        if actor_id is None or kind == "SYSTEM":
            return self.admin.generic(USR_SYSTEM)
        if actor_id == self.info.id:
            return self.participant()
        if kind == "STAFF" or actor_id in self.catalog.meta.staff:
            return self.admin.staff(actor_id)
        return self.admin.generic(USR_UNKNOWN)  # never print another participant's id

    def signer(self, signature: RecordSignature) -> str:
        if signature.signer_id == self.info.id:
            return self.participant()
        if signature.signer is not None or signature.signer_id in self.catalog.meta.staff:
            return self.admin.staff(signature.signer_id, signature.signer)
        return self.admin.generic(USR_UNKNOWN)

    def location(self, site_id: uuid.UUID | None = None) -> str:
        return self.admin.location(site_id or self.info.site_id)

    # events and audit records

    def events(self, entity_type: str, entity_id: uuid.UUID) -> list[Event]:
        return self.by_entity.get((entity_type, entity_id), [])

    def origin(self, events: Sequence[Event]) -> Event | None:
        """The event that created an entity; failing that, the subject's first event."""
        if events:
            return events[0]
        return self.subject.events[0] if self.subject.events else None

    def record(self, event: Event | None) -> str:
        if event is None:
            return ""
        found = self._records.get(event.id)
        if found is None:
            # The coded reason for change; free text, when a writer is given it, follows it.
            why = " ".join(r for r in (event.reason_code, event.reason) if r)
            reason = f"<ReasonForChange>{esc(why)}</ReasonForChange>" if why else ""
            found = (
                f'<AuditRecord><UserRef UserOID="{self.actor(event.actor_kind, event.actor_id)}"/>'
                f'<LocationRef LocationOID="{self.location(event.site_id)}"/>'
                f"<DateTimeStamp>{stamp(event.recorded_at)}</DateTimeStamp>{reason}"
                f"<SourceID>{event.id}</SourceID></AuditRecord>"
            )
            self._records[event.id] = found
        return found

    # item groups

    def group(
        self,
        group_oid: str,
        entity: Entity,
        columns: Sequence[tuple[Column, str | None]],
    ) -> str:
        """One ItemGroupData: every column's transactions, in event order."""
        events = self.events(*entity)
        origin = self.origin(events)
        ordered: list[tuple[int, int, int, str, Tx]] = []
        for index, (column, current) in enumerate(columns):
            history = [
                (event, change.new)
                for event in events
                for change in event.changes
                if change.field == column.field and not change.personal
            ]
            anchor = next(
                (e for e in events for c in e.changes if c.field in column.anchors), origin
            )
            for seq, tx in enumerate(transactions(history, current, column, anchor)):
                position = tx.event.position if tx.event else 0
                ordered.append((position, index, seq, column.oid, tx))
        items = "".join(self.item(oid, tx) for *_, oid, tx in sorted(ordered, key=lambda o: o[:3]))
        return (
            f'<ItemGroupData ItemGroupOID="{esc(group_oid)}" TransactionType="Insert">'
            f"{items}</ItemGroupData>\n"
        )

    def item(self, oid: str, tx: Tx) -> str:
        value = "" if tx.value is None else f' Value="{esc(tx.value)}"'
        return (
            f'<ItemData ItemOID="{esc(oid)}" TransactionType="{tx.kind}"{value}>'
            f"{self.record(tx.event)}</ItemData>"
        )
