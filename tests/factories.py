"""Plain factory functions for test data: `make_x(**overrides)`."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

from domain.actors import Actor, ActorKind, Grant, Origin, RequestContext, Role, system_actor
from domain.ids import SiteId, StudyId
from domain.participants import Participant
from domain.studies import Site, Study

NOW = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)


def make_study(**overrides: Any) -> Study:
    study = Study.new(code=f"S-{uuid.uuid4().hex[:8].upper()}", title="A study", now=NOW)
    return dataclasses.replace(study, **overrides)


def make_site(study: Study | None = None, **overrides: Any) -> Site:
    site = Site.new(
        study_id=(study or make_study()).id,
        code=f"SITE-{uuid.uuid4().hex[:6].upper()}",
        name="Site one",
        country="DE",
        timezone="Europe/Berlin",
        now=NOW,
    )
    return dataclasses.replace(site, **overrides)


def make_participant(site: Site | None = None, **overrides: Any) -> Participant:
    site = site or make_site()
    participant = Participant.register(
        study_id=site.study_id,
        site_id=site.id,
        screening_number=f"SCR-{uuid.uuid4().hex[:6]}",
        timezone=site.timezone,
        now=NOW,
    )
    return dataclasses.replace(participant, **overrides)


def staff(role: Role, study: StudyId | None = None, site: SiteId | None = None) -> Actor:
    return Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), grants=(Grant(role, study, site),))


def admin() -> Actor:
    return staff(Role.ADMIN)


def at_site(role: Role, site: Site) -> Actor:
    return staff(role, site.study_id, site.id)


def caller(actor: Actor | None = None, request_id: str = "test-request") -> RequestContext:
    return RequestContext(actor=actor or system_actor("test"), origin=Origin(request_id=request_id))
