"""The authorization policy, on plain values."""

from __future__ import annotations

import uuid

import pytest

from domain import access
from domain.access import Permission, Scope
from domain.actors import ANONYMOUS, Actor, ActorKind, Grant, Role
from domain.errors import Forbidden, NotFound, Unauthenticated
from domain.ids import ParticipantId, SiteId, StudyId
from tests.factories import admin, make_participant, make_site, staff

STUDY = StudyId(uuid.uuid4())
SITE = SiteId(uuid.uuid4())
OTHER_SITE = SiteId(uuid.uuid4())


CLINICAL = {
    Permission.IDENTIFIERS_READ,
    Permission.CONSENT_SIGN,
    Permission.DATA_SUBMIT,
    Permission.DATA_PROXY,
    Permission.DATA_CORRECT,
    Permission.RECORD_SIGN,
    Permission.QUERY_RAISE,
    Permission.QUERY_ANSWER,
}


def test_admins_run_the_system_but_never_touch_clinical_data_or_identifiers() -> None:
    actor = admin()
    for permission in set(Permission) - CLINICAL:
        assert access.allows(actor, permission, Scope(STUDY, SITE))
    for permission in CLINICAL:
        assert not access.allows(actor, permission, Scope(STUDY, SITE))


@pytest.mark.parametrize("role", [Role.MONITOR, Role.DATA_MANAGER])
def test_monitors_and_data_managers_never_see_identifiers(role: Role) -> None:
    actor = staff(role, STUDY, SITE if role is Role.MONITOR else None)
    assert access.allows(actor, Permission.AUDIT_READ, Scope(STUDY, SITE))
    assert not access.allows(actor, Permission.IDENTIFIERS_READ, Scope(STUDY, SITE))


def test_anonymous_is_unauthenticated_not_forbidden() -> None:
    with pytest.raises(Unauthenticated):
        access.require(ANONYMOUS, Permission.STUDY_READ, Scope(STUDY))


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.INVESTIGATOR])
def test_site_staff_register_only_at_their_site(role: Role) -> None:
    actor = staff(role, STUDY, SITE)
    assert access.allows(actor, Permission.PARTICIPANT_REGISTER, Scope(STUDY, SITE))
    assert not access.allows(actor, Permission.PARTICIPANT_REGISTER, Scope(STUDY, OTHER_SITE))
    with pytest.raises(Forbidden):
        access.require(actor, Permission.PARTICIPANT_REGISTER, Scope(STUDY, OTHER_SITE))


@pytest.mark.parametrize("role", [Role.MONITOR, Role.DATA_MANAGER])
def test_monitors_and_data_managers_never_write(role: Role) -> None:
    actor = staff(role, STUDY, SITE if role is Role.MONITOR else None)
    for permission in (Permission.PARTICIPANT_REGISTER, Permission.PARTICIPANT_UPDATE):
        assert not access.allows(actor, permission, Scope(STUDY, SITE))
    assert access.allows(actor, Permission.PARTICIPANT_READ, Scope(STUDY, SITE))


def test_site_grant_sees_its_study_but_not_other_sites() -> None:
    actor = staff(Role.COORDINATOR, STUDY, SITE)
    assert access.allows(actor, Permission.STUDY_READ, Scope(STUDY))
    assert not access.allows(actor, Permission.SITE_READ, Scope(STUDY, OTHER_SITE))
    assert not access.allows(actor, Permission.PARTICIPANT_READ, Scope(STUDY))


def test_grants_in_another_study_do_not_count() -> None:
    actor = staff(Role.DATA_MANAGER, StudyId(uuid.uuid4()))
    assert not access.allows(actor, Permission.STUDY_READ, Scope(STUDY))


def test_participant_sees_only_self() -> None:
    me = ParticipantId(uuid.uuid4())
    actor = Actor(ActorKind.PARTICIPANT, me, (Grant(Role.PARTICIPANT, STUDY, SITE),))
    assert access.allows(actor, Permission.PARTICIPANT_READ, Scope(STUDY, SITE, me))
    other = ParticipantId(uuid.uuid4())
    assert not access.allows(actor, Permission.PARTICIPANT_READ, Scope(STUDY, SITE, other))
    assert not access.allows(actor, Permission.STUDY_READ, Scope(STUDY))


def test_read_filter_follows_grants() -> None:
    assert access.read_filter(admin(), Permission.STUDY_READ).everything
    assert access.read_filter(ANONYMOUS, Permission.STUDY_READ).nothing
    coordinator = staff(Role.COORDINATOR, STUDY, SITE)
    sites = access.read_filter(coordinator, Permission.PARTICIPANT_READ)
    assert sites.site_ids == {SITE}
    assert not sites.study_ids
    studies = access.read_filter(coordinator, Permission.STUDY_READ)
    assert studies.study_ids == {STUDY}
    manager = access.read_filter(staff(Role.DATA_MANAGER, STUDY), Permission.PARTICIPANT_READ)
    assert manager.study_ids == {STUDY}


def test_visible_answers_not_found_for_missing_and_foreign_alike() -> None:
    site = make_site()
    participant = make_participant(site)
    stranger = staff(Role.COORDINATOR, StudyId(uuid.uuid4()), SiteId(uuid.uuid4()))

    def scope(p: object) -> Scope:
        return Scope(participant.study_id, participant.site_id, participant.id)

    for found in (None, participant):
        with pytest.raises(NotFound):
            access.visible(stranger, Permission.PARTICIPANT_READ, found, scope, "Participant")
    assert (
        access.visible(admin(), Permission.PARTICIPANT_READ, participant, scope, "P") is participant
    )
