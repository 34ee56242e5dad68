"""Field-level audit changes and the single "reason required" rule."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from domain import audit
from domain.actors import Grant, Role
from domain.errors import DomainError, ErrorCode
from domain.participants import ParticipantStatus
from tests.factories import NOW, caller, make_participant, make_study

GRANT = Grant(Role.ADMIN)


def test_created_lists_every_field_once() -> None:
    study = make_study()
    change = audit.created(caller(), GRANT, study, audit.Subject(study_id=study.id))
    assert {f.field for f in change.fields} == {
        "id",
        "code",
        "title",
        "created_at",
        "retention_years",
        "retention_from",
        "closed_at",
        "purged_at",
        "reason_codes",
    }
    assert all(f.old is None for f in change.fields)
    assert change.role is Role.ADMIN


def test_updated_records_exactly_the_changed_fields() -> None:
    before = make_participant()
    after = dataclasses.replace(
        before,
        status=ParticipantStatus.CONSENTED,
        status_changed_at=NOW + timedelta(days=1),
        version=before.version + 1,
    )
    change = audit.updated(caller(), GRANT, before, after, audit.Subject(), reason="consented")
    assert change is not None
    assert [f.field for f in change.fields] == ["status", "status_changed_at"]
    status = change.fields[0]
    assert (status.old, status.new) == ("SCREENED", "CONSENTED")


def test_changing_submitted_data_without_a_reason_is_refused() -> None:
    before = make_participant()
    after = dataclasses.replace(before, screening_number="SCR-999")
    for reason in (None, "", "   "):
        with pytest.raises(DomainError) as raised:
            audit.updated(caller(), GRANT, before, after, audit.Subject(), reason=reason)
        assert raised.value.code is ErrorCode.REASON_REQUIRED


def test_no_change_means_no_event() -> None:
    study = make_study()
    assert audit.updated(caller(), GRANT, study, study, audit.Subject()) is None


def test_values_are_plain_json() -> None:
    participant = make_participant()
    snapshot = audit.snapshot(participant)
    assert snapshot["status"] == "SCREENED"
    assert snapshot["registered_at"] == NOW.isoformat()
    assert snapshot["id"] == str(participant.id)


def test_overlong_reason_is_refused() -> None:
    with pytest.raises(DomainError) as raised:
        audit.normalise_reason("x" * (audit.MAX_REASON_LENGTH + 1))
    assert raised.value.field == "reason"
