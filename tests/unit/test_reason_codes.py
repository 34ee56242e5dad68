"""A study's reason codes: the rules of its list, who sets it, and the codes its changes may
carry; on in-memory fakes."""

from __future__ import annotations

import pytest

from domain.actors import Role
from domain.errors import DomainError, ErrorCode
from domain.reason_codes import (
    DEFAULT_REASON_CODES,
    ReasonCode,
    given_or_other,
    reason_code,
    study_list,
)
from domain.services import reason_codes as cases
from domain.services import studies
from tests.factories import admin, caller, make_study, staff
from tests.fakes import FakeUnitOfWork

R = ReasonCode


def test_new_studies_allow_the_default_list_with_other() -> None:
    assert make_study().reason_codes == DEFAULT_REASON_CODES
    assert R.OTHER in DEFAULT_REASON_CODES
    assert R.SITE_REQUEST not in DEFAULT_REASON_CODES  # catalogue members are chosen per study


def test_a_list_is_kept_in_the_catalogues_order() -> None:
    chosen = study_list(["OTHER", R.SITE_REQUEST, "DATA_ENTRY_ERROR"])
    assert chosen == (R.DATA_ENTRY_ERROR, R.SITE_REQUEST, R.OTHER)


@pytest.mark.parametrize(
    ("codes", "error"),
    [
        ([], ErrorCode.REASON_CODES_EMPTY),
        ([R.OTHER, R.DEVICE_ERROR, R.OTHER], ErrorCode.REASON_CODE_REPEATED),
        ([R.TRANSCRIPTION_ERROR], ErrorCode.REASON_CODE_OTHER_REQUIRED),
        (["OTHER", "BECAUSE"], ErrorCode.VALIDATION_FAILED),
    ],
)
def test_bad_lists_are_refused_with_a_stable_code(codes: list[str], error: ErrorCode) -> None:
    with pytest.raises(DomainError) as refused:
        study_list(codes)
    assert (refused.value.code, refused.value.field) == (error, "reason_codes")


def test_a_code_outside_the_list_is_refused_and_free_text_alone_is_other() -> None:
    allowed = study_list([R.SITE_REQUEST, R.OTHER])
    assert reason_code("SITE_REQUEST", allowed) is R.SITE_REQUEST
    assert given_or_other(None, allowed) is R.OTHER
    for value in (R.TRANSCRIPTION_ERROR, "BECAUSE", None):
        with pytest.raises(DomainError) as refused:
            reason_code(value, allowed)
        assert (refused.value.code, refused.value.field) == (
            ErrorCode.VALIDATION_FAILED,
            "reason_code",
        )


async def test_designers_set_the_list_audited_and_the_same_list_changes_nothing() -> None:
    uow = FakeUnitOfWork()
    study = await studies.create_study(uow=uow, ctx=caller(admin()), code="rc", title="Codes")
    coordinator = caller(staff(Role.COORDINATOR, study.id))
    codes = [R.DATA_ENTRY_ERROR, R.OTHER]
    changed = await cases.set_reason_codes(
        uow=uow, ctx=coordinator, study_id=study.id, codes=codes, reason="SOP v2"
    )
    assert changed.reason_codes == (R.DATA_ENTRY_ERROR, R.OTHER)
    event = uow.events[-1]
    assert (event.action, event.reason) == ("reason_codes_set", "SOP v2")
    assert [(f.field, f.old, f.new) for f in event.fields] == [
        ("reason_codes", [c.value for c in DEFAULT_REASON_CODES], ["DATA_ENTRY_ERROR", "OTHER"])
    ]
    commits = uow.commits
    again = await cases.set_reason_codes(uow=uow, ctx=coordinator, study_id=study.id, codes=codes)
    assert again == changed
    assert uow.commits == commits
    assert await cases.required(uow, study.id, "DATA_ENTRY_ERROR") is R.DATA_ENTRY_ERROR
    assert await cases.or_other(uow, study.id, None) is R.OTHER
    with pytest.raises(DomainError):
        await cases.or_other(uow, study.id, R.DEVICE_ERROR)


@pytest.mark.parametrize("role", [Role.INVESTIGATOR, Role.MONITOR, Role.DATA_MANAGER])
async def test_only_designers_set_the_list(role: Role) -> None:
    uow = FakeUnitOfWork()
    study = await studies.create_study(uow=uow, ctx=caller(admin()), code="rc", title="Codes")
    with pytest.raises(DomainError) as refused:
        await cases.set_reason_codes(
            uow=uow, ctx=caller(staff(role, study.id)), study_id=study.id, codes=[R.OTHER]
        )
    assert refused.value.code is ErrorCode.FORBIDDEN
    assert (await uow.studies.get(study.id)) == study
