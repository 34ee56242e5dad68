"""CDISC ODM 1.3.2 archival export: one `odm.xml` with the study's metadata, its users, sites
and signature meanings, and every subject's data together with its audit trail.

The file is ``FileType="Transactional"``, ``Archival="Yes"``, ``Granularity="All"`` (the ODM
rules for an archival file: transactional, complete, no Upsert). Every value is written as the
transactions that produced it, in event-log order, each ItemData with the AuditRecord of the
event that set it (``SourceID`` = the event id, ``ReasonForChange`` only when the event has a
non-personal reason). Replaying the ItemData of a record in document order (Insert, Update,
Remove) gives its state in the snapshot: a corrected diary answer appears as its Insert (the
submission) followed by an Update (the correction). The record is authoritative for the last
value: the last transaction of an item always carries the record's current value.

Metadata (``Study/MetaDataVersion``, OID ``MDV.<event-log position>``)
- ``SE.ENROLMENT``: ``F.SUBJECT`` (status, arm, enrolment day) and ``F.CONSENT`` (repeating,
  ``FormRepeatKey`` = consent id: version number, language, signed at).
- ``SE.VISIT.<code>`` per visit definition (repeating, ``StudyEventRepeatKey`` = visit id):
  ``F.VISIT`` with contact mode, status, outcome, scheduled start in the participant's local
  time with its UTC offset, duration, out-of-window flag and completion time.
- ``SE.DIARY`` (repeating, ``StudyEventRepeatKey`` = the occurrence key, e.g.
  ``2026-03-02T09:00``): one FormData per entry of ``F.<CODE>.V<n>`` (one FormDef per
  questionnaire version, ``FormRepeatKey`` = entry id) with ``IG.DIARY.ENTRY`` (status,
  quarantine code, timeliness, due, completed and received times, clock skew) and
  ``IG.<CODE>.V<n>`` (answers, items ``I.<CODE>.V<n>.<ITEM>``). Quarantined entries are kept.
- ``SE.READINGS``: ``F.READINGS`` with one ``IG.RD.<KIND>`` per reading
  (``ItemGroupRepeatKey`` = reading id): each component's canonical value (with its UCUM
  MeasurementUnitRef) and original value and unit, effective start (and end for an interval),
  the device's source id, a deleted flag, the status at receipt (accepted or quarantined,
  with why), the consent-superseded flag and the device's clock. Deleted, quarantined and
  rejected readings are kept: a logical delete is an Update of ``I.RD.DELETED`` to true, a
  review an Update of ``I.RD.STATUS``, each with the AuditRecord of its event.

- ``SE.SAFETY`` (see ``safety``): ``F.AE``, ``F.CM``, ``F.DV``, one repeating ItemGroupData
  per adverse event, medication and deviation (``ItemGroupRepeatKey`` = the record id).

Questionnaire item types: single choice -> text with a CodeList (Decode per language);
multiple choice -> one boolean item per choice (``I.<CODE>.V<n>.<ITEM>.<CHOICE>``, true when
selected, nothing when the item was not answered); integer and scale -> integer, decimal and
VAS -> float, each with Hard RangeChecks and the item's unit; scale/VAS anchors in the
Description; date, time (local wall time, no offset) and datetime (with offset). Free-text
items are described in the metadata but never given values. Questions carry a TranslatedText
per questionnaire language (``xml:lang``).

Audit records: events are matched to values by ``entity_type``/``entity_id`` and
``Change.field`` (``answers.<ITEM>``, ``status``, ``local_start``, ...). A value that no event
names gets the entity's first event (its creation), or the first event naming a related field
(e.g. a visit's completion time: the event that set its outcome). Readings are audited by
their batch: the ``ReadingBatch`` event whose entity is the reading's ``batch_id``; failing
that the latest batch event recorded at or before the reading was received, else the
earliest batch event. Containers (SubjectData, a visit's StudyEventData, an entry's or
consent's FormData) carry the AuditRecord of their entity's first event.

Signatures: the earliest valid signature of a record goes in the record's element
(SubjectData for the participant, a visit's StudyEventData, a diary entry's or consent's
FormData); each further valid one in a repeat of that element (``TransactionType="Update"``,
no data). Invalidated signatures (the record changed after signing) are never ``<Signature>``
elements: an Annotation/Comment on the record says so, and every signature's state is data
(``F.SIGNATURE``, see ``signatures``): the version signed, the version now, VALID or
INVALIDATED, and the audit record of the change that invalidated it. Signatures of records
that are not in the export are left out. SignatureDefs: one per meaning, Methodology
Electronic, LegalReason "21 CFR Part 11".

Users and locations: staff are ``USR.<staff uuid>`` with their printed name (the only names in
the file); a participant who acted or signed is ``USR.SUBJECT.<subject id>`` without any name;
``USR.SYSTEM`` and ``USR.UNKNOWN`` (an actor that is neither staff nor the subject) when used.
Sites are Locations ``LOC.<site code>``. Since AdminData precedes ClinicalData but participant
users are only known while streaming, ClinicalData (and the participant users) are streamed
into anonymous temporary files in the export directory and copied into ``odm.xml`` at the end.

``WrittenFile.rows`` counts the ItemGroupData elements (one per reading, two per diary entry,
one per visit, consent, subject, signature, adverse event, medication and deviation);
``progress`` is called with the same counts.

Modules: ``text`` (OIDs, escaping, value text), ``catalog`` (the metadata indexed),
``metadata`` and ``item_defs`` (the Study element), ``admin`` (AdminData), ``audit`` (audit
records and transactions), ``signatures``, ``clinical`` (a subject's records), ``readings``
(the hot path), ``safety`` (AE, CM, DV), ``writer`` (the file).
"""

from infra.exports.odm.writer import write_odm

__all__ = ["write_odm"]
