"""A subject's device readings: one ItemGroupData each, the hot path of the ODM export.

Readings are audited by their batch: the ``ReadingBatch`` event whose entity is the reading's
``batch_id``; failing that the latest batch event recorded at or before the reading was
received, else the earliest batch event. All of a reading's values come from that one event,
so its AuditRecord sits on the ItemGroupData and applies to every ItemData in it (ODM's
inheritance); only a logical delete and a review, later events, carry their own.
"""

from __future__ import annotations

import bisect
import uuid
from datetime import datetime

from domain.devices import ReadingStatus, StoredReading
from infra.exports.model import Event
from infra.exports.odm.audit import SubjectAudit
from infra.exports.odm.catalog import Catalog, Component, KindLayout
from infra.exports.odm.text import (
    I_RD_CONSENT,
    I_RD_DELETED,
    I_RD_DEVICE_TIME,
    I_RD_END,
    I_RD_QUARANTINE,
    I_RD_SOURCE,
    I_RD_START,
    I_RD_STATUS,
    esc,
)
from infra.exports.readings import ReadingRow

_QUARANTINED = ReadingStatus.QUARANTINED.value


class ReadingWriter:
    def __init__(self, catalog: Catalog, audit: SubjectAudit) -> None:
        self.catalog = catalog
        self.audit = audit
        self.layouts: dict[str, KindLayout] = {k.value: v for k, v in catalog.kinds.items()}
        events = [e for e in audit.subject.events if e.entity_type == "ReadingBatch"]
        self.named = {str(e.entity_id): e for e in reversed(events)}  # the first one wins
        self.batches = sorted(events, key=lambda e: (e.recorded_at, e.position))
        self.batch_times = [e.recorded_at for e in self.batches]
        self.batch_audits: dict[str, str] = {}

    def _batch_audit(self, row: ReadingRow) -> str:
        found = self.batch_audits.get(row.batch_id)
        if found is None:
            found = self.batch_audits[row.batch_id] = self.audit.record(self._batch_event(row))
        return found

    def _batch_event(self, row: ReadingRow) -> Event | None:
        named = self.named.get(row.batch_id)
        if named is not None:
            return named
        if not self.batches:
            return self.audit.origin([])
        at = bisect.bisect_right(self.batch_times, datetime.fromisoformat(row.received))
        return self.batches[at - 1] if at else self.batches[0]

    def reading(self, row: ReadingRow) -> str:
        layout = self.layouts[row.kind]
        audit = self._batch_audit(row)
        end = (
            f'<ItemData ItemOID="{I_RD_END}" TransactionType="Insert" Value="{row.end}"/>'
            if row.end
            else ""
        )
        components = "".join(
            self._component(component, parts, layout)
            for component, parts in zip(layout.components, row.components(), strict=False)
        )
        later = ""
        if row.deleted or row.reviewed:
            later = self._later(row, audit)
        return (
            f'<ItemGroupData ItemGroupOID="{layout.group_oid}" ItemGroupRepeatKey="{row.id}"'
            f' TransactionType="Insert">{audit}<ItemData ItemOID="{I_RD_START}"'
            f' TransactionType="Insert" Value="{row.start}"/>{end}{components}'
            f'<ItemData ItemOID="{I_RD_SOURCE}" TransactionType="Insert"'
            f' Value="{esc(row.source_id)}"/>'
            f'<ItemData ItemOID="{I_RD_DELETED}" TransactionType="Insert" Value="false"/>'
            f"{self._intake(row)}{later}</ItemGroupData>\n"
        )

    def _component(
        self, component: Component, parts: tuple[str, str, str, str], layout: KindLayout
    ) -> str:
        value, unit, original, sent = parts
        unit_ref = layout.unit_ref if unit == layout.unit else self.catalog.unit_ref(unit)
        sent_unit = (
            f'<ItemData ItemOID="{component.original_unit_oid}" TransactionType="Insert"'
            f' Value="{esc(sent)}"/>'
            if sent
            else ""
        )
        return (
            f'<ItemData ItemOID="{component.value_oid}" TransactionType="Insert"'
            f' Value="{value}">{unit_ref}</ItemData>'
            f'<ItemData ItemOID="{component.original_value_oid}" TransactionType="Insert"'
            f' Value="{original}"/>{sent_unit}'
        )

    def _intake(self, row: ReadingRow) -> str:
        """How the reading was received: the status then (a review is an Update), why it was
        quarantined, the consent flag and the device's clock with its offset."""
        received = _QUARANTINED if row.reviewed else row.status
        quarantine = (
            f'<ItemData ItemOID="{I_RD_QUARANTINE}" TransactionType="Insert"'
            f' Value="{esc(row.quarantine_code)}"/>'
            if row.quarantine_code
            else ""
        )
        clock = (
            f'<ItemData ItemOID="{I_RD_DEVICE_TIME}" TransactionType="Insert"'
            f' Value="{row.device_time}"/>'
            if row.device_time
            else ""
        )
        consent = "true" if row.consent_superseded else "false"
        return (
            f'<ItemData ItemOID="{I_RD_STATUS}" TransactionType="Insert" Value="{received}"/>'
            f'{quarantine}<ItemData ItemOID="{I_RD_CONSENT}" TransactionType="Insert"'
            f' Value="{consent}"/>{clock}'
        )

    def _later(self, row: ReadingRow, batch_audit: str) -> str:
        """The logical delete and the site's review: Updates, each audited by its event."""
        parts = []
        if row.deleted:
            audit = self._event_audit(row, "deleted_at", batch_audit)
            parts.append(
                f'<ItemData ItemOID="{I_RD_DELETED}" TransactionType="Update" Value="true">'
                f"{audit}</ItemData>"
            )
        if row.reviewed:
            audit = self._event_audit(row, "reviewed_at", batch_audit)
            parts.append(
                f'<ItemData ItemOID="{I_RD_STATUS}" TransactionType="Update"'
                f' Value="{row.status}">{audit}</ItemData>'
            )
        return "".join(parts)

    def _event_audit(self, row: ReadingRow, field: str, batch_audit: str) -> str:
        events = self.audit.events(StoredReading.ENTITY, uuid.UUID(row.id))
        event = next(
            (e for e in events for c in e.changes if c.field == field),
            events[-1] if events else None,
        )
        return self.audit.record(event) if event else batch_audit
