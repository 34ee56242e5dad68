"""The participant's own data: requested, built (the worker's task), fetched once by its link;
the Bundle validated with fhir.resources; expiry on the pinned clock; who may ask."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import datetime
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import text as sql_text

from domain.actors import Actor, ActorKind, Grant, RequestContext, Role
from domain.design import ContactMode
from domain.errors import DomainError, ErrorCode, Forbidden, NotFound
from domain.services import data_downloads as cases
from domain.services import design, visits
from infra.db.uow import SqlUnitOfWorkFactory
from infra.exports.fhir.my_data import FhirMyData
from tests.clock import PinnedClock
from tests.factories import admin, caller
from tests.world import DIARY_TEXT, World, add_diary, build_world

WORKER = caller()
LINK = caller()


def _app(world: World) -> RequestContext:
    grant = Grant(Role.PARTICIPANT, world.study.id, world.site.id)
    return caller(Actor(ActorKind.PARTICIPANT, world.people[0].id, (grant,)))


async def _world(uow: SqlUnitOfWorkFactory) -> World:
    world = await build_world(uow)
    await add_diary(uow, world)
    definition = await design.create_visit_definition(
        uow=uow(),
        ctx=caller(admin()),
        study_id=world.study.id,
        code="W1",
        name="Week 1",
        day=7,
        window_before=1,
        window_after=1,
        modes=(ContactMode.VIDEO,),
    )
    await visits.schedule(
        uow=uow(),
        ctx=caller(world.coordinator),
        participant_id=world.people[0].id,
        definition_id=definition.id,
        mode=ContactMode.VIDEO,
        local_start=datetime(2026, 6, 17, 10, 0),
    )
    return world


async def _built(uow: SqlUnitOfWorkFactory, ctx: RequestContext, world: World) -> str:
    download, token = await cases.request(uow=uow(), ctx=ctx, participant_id=world.people[0].id)
    await cases.build(uows=uow, renderer=FhirMyData(), ctx=WORKER, download_id=download.id)
    return token


def _files(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        return {name: z.read(name) for name in z.namelist()}


async def test_the_bundle_holds_everything_about_them_and_is_valid_fhir(
    uow: SqlUnitOfWorkFactory,
) -> None:
    world = await _world(uow)
    token = await _built(uow, _app(world), world)
    files = _files(await cases.fetch(uow=uow(), ctx=LINK, token=token))
    assert sorted(files) == ["bundle.json", "index.html"]
    bundle_json = files["bundle.json"].decode()
    get_fhir_model_class("Bundle").model_validate_json(bundle_json)
    bundle: dict[str, Any] = json.loads(bundle_json)
    for entry in bundle["entry"]:  # each resource on its own, too
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    kinds = sorted({e["resource"]["resourceType"] for e in bundle["entry"]})
    assert kinds == [
        "Appointment",
        "Consent",
        "Observation",
        "Organization",
        "Patient",
        "QuestionnaireResponse",
        "ResearchStudy",
    ]
    (patient,) = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    ]
    assert patient["identifier"][0]["value"] == world.people[0].subject_id
    answers = [
        (i["text"], i["answer"])
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "QuestionnaireResponse"
        for i in e["resource"]["item"]
    ]
    assert ("How bad?", [{"valueInteger": 5}]) in answers  # as corrected by the site
    assert ("Tell us more", [{"valueString": DIARY_TEXT}]) in answers  # their own words
    (observation,) = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
    ]
    assert observation["status"] == "entered-in-error"  # the site deleted it, with a reason
    assert observation["valueQuantity"]["value"] == 64
    page = files["index.html"].decode()
    assert "World" in page
    assert "How bad?" in page
    assert world.people[0].subject_id in page


async def test_the_link_works_once_and_only_until_it_expires(
    uow: SqlUnitOfWorkFactory, clock: PinnedClock
) -> None:
    world = await _world(uow)
    me = _app(world)
    token = await _built(uow, me, world)
    assert await cases.fetch(uow=uow(), ctx=LINK, token=token)
    with pytest.raises(DomainError) as again:
        await cases.fetch(uow=uow(), ctx=LINK, token=token)
    assert again.value.code is ErrorCode.DOWNLOAD_EXPIRED

    late = await _built(uow, me, world)
    clock.advance(hours=24)
    with pytest.raises(DomainError) as expired:
        await cases.fetch(uow=uow(), ctx=LINK, token=late)
    assert expired.value.code is ErrorCode.DOWNLOAD_EXPIRED

    _, waiting = await cases.request(uow=uow(), ctx=me, participant_id=world.people[0].id)
    with pytest.raises(DomainError) as not_yet:
        await cases.fetch(uow=uow(), ctx=LINK, token=waiting)
    assert not_yet.value.code is ErrorCode.DOWNLOAD_NOT_READY
    with pytest.raises(NotFound):
        await cases.fetch(uow=uow(), ctx=LINK, token=waiting + "x")


async def test_only_a_digest_of_the_token_is_kept_and_the_archive_is_sealed(
    uow: SqlUnitOfWorkFactory,
) -> None:
    world = await _world(uow)
    download, token = await cases.request(
        uow=uow(), ctx=_app(world), participant_id=world.people[0].id
    )
    await cases.build(uows=uow, renderer=FhirMyData(), ctx=WORKER, download_id=download.id)
    await cases.fetch(uow=uow(), ctx=LINK, token=token)
    async with uow() as u:
        row = (
            await u.session.execute(
                sql_text("SELECT token_digest, archive_sealed FROM data_downloads WHERE id = :i"),
                {"i": download.id},
            )
        ).one()
    assert token.encode() not in row.token_digest
    assert DIARY_TEXT.encode() not in row.archive_sealed


async def test_the_site_may_ask_for_them_and_others_may_not(uow: SqlUnitOfWorkFactory) -> None:
    world = await _world(uow)
    person = world.people[0].id
    download, _ = await cases.request(
        uow=uow(), ctx=caller(world.coordinator), participant_id=person
    )
    assert download.requested_by == world.coordinator.id
    monitor = Actor(
        ActorKind.STAFF, uuid.uuid4(), (Grant(Role.MONITOR, world.study.id, world.site.id),)
    )
    with pytest.raises(Forbidden):
        await cases.request(uow=uow(), ctx=caller(monitor), participant_id=person)
    with pytest.raises(Forbidden):  # administrators see participants, but act for none
        await cases.request(uow=uow(), ctx=caller(admin()), participant_id=person)
    other = Grant(Role.PARTICIPANT, world.study.id, world.site.id)
    stranger = caller(Actor(ActorKind.PARTICIPANT, world.people[1].id, (other,)))
    with pytest.raises(NotFound):
        await cases.request(uow=uow(), ctx=stranger, participant_id=person)
