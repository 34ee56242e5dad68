"""Missed diaries as protocol deviations: a diary occurrence whose window closed without an
accepted entry raises one automatic MISSED_ASSESSMENT deviation (MINOR).

Schedules have no "optional" flag (`required` is a property of questionnaire items, not of
diaries), so every planned occurrence of a schedule that applies to the participant's arm is
required. What counts as missed is what compliance counts as missed: no accepted entry for
the occurrence. A late entry accepted within the schedule's grace answers it, so the check
waits until the grace has passed too; an entry after that is quarantined, not an answer.

Only participants taking part (enrolled, neither completed nor withdrawn) are checked, and
only occurrences due at or after they were enrolled and had signed a consent. The worker
runs the check periodically; each (participant, occurrence) has a stable trigger id, so the
unique trigger index of the deviations lets no rerun, retry or parallel run raise it twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from domain.deviations import (
    DeviationCategory,
    DeviationSeverity,
    DeviationSource,
    DeviationStatus,
    ProtocolDeviation,
    Trigger,
)
from domain.diaries import DiarySchedule
from domain.ids import ParticipantId, new_id
from domain.participants import Participant, ParticipantStatus
from domain.schedules import Occurrence

CHECK = "deviations.missed_diaries"  # the worker's periodic task; args: timestamp
OCCURRENCE = "DiaryOccurrence"  # the trigger's record type: a planned occurrence, not a row
# Namespace of the trigger ids; never change it, or every missed diary is raised again.
_NAMESPACE = uuid.UUID("6b0d3c1e-4f7a-5e42-9a53-2c1f8e0d7b64")


def occurrence_trigger(
    participant_id: ParticipantId, schedule_id: uuid.UUID, occurrence_key: str
) -> Trigger:
    """The same trigger for the same participant's occurrence, on every run and worker."""
    name = f"{participant_id}/{schedule_id}/{occurrence_key}"
    return Trigger(OCCURRENCE, uuid.uuid5(_NAMESPACE, name))


def closed_for_good(schedule: DiarySchedule, occurrence: Occurrence) -> datetime:
    """The last instant an entry for the occurrence can still be accepted (as late, within
    the schedule's grace, when it takes late entries); both ends are inclusive."""
    return occurrence.closes_at + (schedule.grace or timedelta(0))


def taking_part_since(participant: Participant, consented_at: datetime | None) -> datetime | None:
    """From when the participant's diaries count: enrolled (the moment they became ENROLLED,
    which is their status's last change while they stay so) and consented. None when they
    do not take part now: not enrolled yet, completed, withdrawn, or without a consent."""
    if participant.status is not ParticipantStatus.ENROLLED or participant.enrolled_on is None:
        return None
    if consented_at is None:
        return None
    return max(participant.status_changed_at, consented_at)


def missed_diaries(
    participant: Participant,
    *,
    since: datetime | None,
    planned: Sequence[tuple[DiarySchedule, Occurrence]],
    answered: Collection[tuple[uuid.UUID, str]],
    now: datetime,
) -> list[ProtocolDeviation]:
    """A deviation per required occurrence due at or after `since` that can no longer be
    answered (its window and grace closed strictly before `now`) and has no accepted entry
    (`answered`: (schedule id, occurrence key)). Nothing when `since` is None."""
    if since is None or participant.status is not ParticipantStatus.ENROLLED:
        return []
    found = []
    for schedule, occurrence in planned:
        if occurrence.due_at < since or closed_for_good(schedule, occurrence) >= now:
            continue
        if (schedule.id, occurrence.key) in answered:
            continue
        found.append(_missed(participant, schedule, occurrence, now))
    return found


def _missed(
    participant: Participant, schedule: DiarySchedule, occurrence: Occurrence, now: datetime
) -> ProtocolDeviation:
    due = f"{occurrence.local_date.isoformat()} {occurrence.local_time:%H:%M}"
    return ProtocolDeviation(
        id=new_id(),
        study_id=participant.study_id,
        site_id=participant.site_id,
        participant_id=participant.id,
        category=DeviationCategory.MISSED_ASSESSMENT,
        severity=DeviationSeverity.MINOR,
        term=f"Diary {schedule.questionnaire_code} due {due} not completed",
        occurred_on=occurrence.local_date.isoformat(),
        source=DeviationSource.AUTOMATIC,
        trigger=occurrence_trigger(participant.id, schedule.id, occurrence.key),
        status=DeviationStatus.OPEN,
        detected_at=now,
    )
