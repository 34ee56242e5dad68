"""The rules of adverse events: partial dates, the reporting clock of a serious event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.adverse_events import (
    REPORTING_WINDOW,
    AdverseEvent,
    AdverseEventDetails,
    Seriousness,
    partial_date,
)
from domain.errors import DomainError
from domain.ids import ParticipantId, SiteId, StudyId
from domain.reason_codes import DEFAULT_REASON_CODES, ReasonCode, reason_code

NOW = datetime(2026, 6, 10, 9, 30, tzinfo=UTC)
STAFF = uuid.UUID(int=7)


def _recorded(*criteria: Seriousness) -> AdverseEvent:
    return AdverseEvent.recorded_by_site(
        study_id=StudyId(uuid.UUID(int=1)),
        site_id=SiteId(uuid.UUID(int=2)),
        participant_id=ParticipantId(uuid.UUID(int=3)),
        details=AdverseEventDetails(term="Fall", seriousness=criteria),
        by=STAFF,
        now=NOW,
    )


@pytest.mark.parametrize("text", ["2026", "2026-06", "2026-06-03", " 2024-02-29 "])
def test_partial_dates_as_sdtm_allows(text: str) -> None:
    assert partial_date(text, "onset") == text.strip()


@pytest.mark.parametrize("text", ["26", "2026-6", "2026-13", "2026-02-30", "2026-06-03T10:00"])
def test_other_dates_are_refused(text: str) -> None:
    with pytest.raises(DomainError) as refused:
        partial_date(text, "onset")
    assert refused.value.field == "onset"


def test_an_end_may_be_less_precise_than_the_onset_but_not_before_it() -> None:
    AdverseEventDetails(term="x", onset="2026-06-03", end="2026-06").checked()
    with pytest.raises(DomainError):
        AdverseEventDetails(term="x", onset="2026-06-03", end="2026-05").checked()


def test_a_serious_event_is_due_24_hours_after_the_site_knew() -> None:
    event = _recorded(Seriousness.HOSPITALISATION)
    assert event.report_due_at == NOW + REPORTING_WINDOW
    assert not event.overdue(NOW + REPORTING_WINDOW)
    assert event.overdue(NOW + REPORTING_WINDOW + timedelta(seconds=1))
    sent = event.sent_to_sponsor(NOW + timedelta(hours=30), NOW + timedelta(hours=30))
    assert not sent.overdue(NOW + timedelta(days=3))


def test_a_correction_never_restarts_the_clock_and_a_plain_event_has_none() -> None:
    plain = _recorded()
    assert plain.report_due_at is None
    with pytest.raises(DomainError):
        plain.sent_to_sponsor(NOW, NOW)
    later = NOW + timedelta(hours=5)
    serious = plain.corrected(
        AdverseEventDetails(term="Fall", seriousness=(Seriousness.DEATH,)),
        ReasonCode.OTHER,
        later,
    )
    assert serious.report_due_at == later + REPORTING_WINDOW
    again = serious.corrected(
        AdverseEventDetails(term="Fall", seriousness=(Seriousness.LIFE_THREATENING,)),
        ReasonCode.TRANSCRIPTION_ERROR,
        later + timedelta(hours=1),
    )
    assert again.report_due_at == serious.report_due_at


def test_reason_codes_come_from_the_list() -> None:
    assert reason_code("DEVICE_ERROR", DEFAULT_REASON_CODES) is ReasonCode.DEVICE_ERROR
    for bad in (None, "TYPO"):
        with pytest.raises(DomainError):
            reason_code(bad, DEFAULT_REASON_CODES)
    with pytest.raises(DomainError):
        reason_code("OTHER", (ReasonCode.TRANSCRIPTION_ERROR,))
