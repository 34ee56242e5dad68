"""HL7 FHIR R4 (R4B-valid) bulk data: one NDJSON file per resource type, one resource a line.

Files, each named ``<ResourceType>.ndjson`` and written even when empty:

- ``ResearchStudy``: the study. ``identifier`` is the study code, ``site`` names every site by
  a logical Location reference (its code), ``location`` lists the sites' countries (ISO 3166),
  ``arm`` lists the arms (``name`` = arm code, ``description`` = arm name).
- ``ResearchSubject``: one per participant, id = the pseudonymous subject id. ``individual``
  is a logical Patient reference by identifier (``urn:hearth:subject`` | subject id); no
  Patient resource exists. ``status`` maps ParticipantStatus (SCREENED screening, CONSENTED
  pending-on-study, ENROLLED on-study, COMPLETED off-study, WITHDRAWN withdrawn);
  ``assignedArm`` is the arm code; ``period`` runs from enrolment (a date) to the status
  change when the participant left; ``consent`` points at their latest Consent.
- ``Questionnaire``: one per published version, ``url`` ``urn:hearth:<study>:questionnaire:
  <code>``. Items keep their code as ``linkId``; types map SINGLE/MULTIPLE_CHOICE to choice
  (multiple: ``repeats``) with ``answerOption`` codings in ``urn:hearth:<study>:codes:
  <questionnaire>:<item>``, INTEGER and SCALE to integer, DECIMAL and VAS to decimal, DATE,
  TIME and DATETIME to date, time and dateTime, FREE_TEXT to string (described, never
  answered here). Texts are in the primary language (English when declared, else the first),
  other languages ride along in the standard ``translation`` extension; ranges and units use
  the ``minValue``/``maxValue``/``questionnaire-unit`` extensions.
- ``QuestionnaireResponse``: one per ACCEPTED diary entry (quarantined ones are not analysis
  data). ``questionnaire`` is ``<url>|<version>``; ``status`` completed, or amended once the
  entry was corrected; ``authored`` the device's completion time. Answers are codings,
  integers, decimals, dates, times and dateTimes; free-text answers are never written.
- ``Observation``: one per accepted device reading, ``final``, or ``entered-in-error`` when
  logically deleted (so analyses must filter on status); readings quarantined for review, or
  rejected on review, are not analysis data and are left out (like quarantined entries).
  LOINC codes per kind, the canonical value and UCUM unit as a Quantity (blood pressure: a
  panel with systolic/diastolic components),
  ``effectiveDateTime`` (or ``effectivePeriod`` for step counts) with the device's offset,
  ``issued`` the server's receipt, the device's source id as identifier, and the device as a
  logical reference by identifier. Step counts are in the ``activity`` category, the rest
  ``vital-signs``.
- ``Appointment``: one per visit: booked, fulfilled or cancelled; start and end in the visit's
  time zone; ``appointmentType`` the visit definition, ``serviceType`` the contact mode; the
  participant (logical reference) as an accepted participant. Notes and outcomes stay out.
- ``Consent``: one per signed consent version: active, scope research, category LOINC
  59284-0, ``policy`` ``urn:hearth:<study>:consent:<number>``, the signed language and title
  as ``sourceAttachment``.
- ``Provenance``: one per audit event about the participant, id = the event id. ``target``
  is the exported resource the event is about (a literal reference that resolves within the
  export), or a logical reference by identifier for records that are not exported (reading
  batches, quarantined entries and readings). ``recorded`` is the server time,
  ``activity`` the action (v3 DataOperation where one fits, the action as text), the agent is
  "Participant", "System" or the staff member's role, never a name or an internal id;
  ``reason`` only for a recorded, non-personal reason. Signature events carry the signature
  (ASTM E1762 type).

Every timestamp carries its UTC offset. No participant's internal id, name, free text or
note is written. Resources are serialised compactly (``json.dumps`` separators, UTF-8
unescaped), decimals as exact JSON numbers; Observations, the hot path, are assembled from
pre-serialised fragments and reading rows' ready-made text.

Modules: ``jsontext`` (serialisation and shared shapes), ``study`` (ResearchStudy,
ResearchSubject, Questionnaire), ``records`` (QuestionnaireResponse, Appointment, Consent),
``observations`` (the readings), ``provenance`` (the audit trail), ``writer`` (the files).
"""

from infra.exports.fhir.jsontext import RESOURCE_TYPES, Json, dumps, subject_resource_id
from infra.exports.fhir.writer import write_fhir

__all__ = ["RESOURCE_TYPES", "Json", "dumps", "subject_resource_id", "write_fhir"]
