"""The authorization matrix: every role against every operation, checked against a table.

Every role (anonymous, admin, coordinator, investigator, monitor, two data managers, a
participant), every query, mutation and guarded field, and own or other participant, site and
study runs over HTTP and is compared with what `authorization_table.py` writes out (data, not
computed from the policy, so the policy itself is under test). Plain fields are read through
`node(id:)` with every field of the type selected: all there when the object is visible, none
otherwise. A schema field without a rule in `api/policy/`, a rule without a case here, or a
case without a row in the table fails the suite.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from graphql import GraphQLObjectType, GraphQLSchema, get_named_type
from starlette.applications import Starlette

from api.policy import CARRIERS, FIELD_RULES, PARENT, SOCKET_FIELDS, Kind
from api.relay import from_global_id, to_global_id
from api.schema import build_schema
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import SiteId, StudyId
from tests.e2e import authorization_table as table
from tests.e2e.conftest import PASSWORD, create_user
from tests.e2e.trial import (
    ASSIGN_DEVICE,
    CREATE_ARM,
    CREATE_DIARY,
    CREATE_SITE,
    CREATE_STUDY,
    ENROL,
    ENROL_ARM,
    HOURS,
    ISSUE_CODE,
    LOGIN,
    PUBLISH,
    PUBLISH_QUESTIONNAIRE,
    REGISTER,
    REGISTER_DEVICE,
    SIGN_CONSENT,
    SUBMIT_DIARY,
    SUBMIT_READINGS,
    diary_entry,
    heart_rate,
    open_occurrence,
)
from tests.notification_receivers import Device

DENIALS = {"FORBIDDEN", "NOT_FOUND", "UNAUTHENTICATED"}
ROLES = (
    "anonymous",
    "admin",
    "coordinator",
    "investigator",
    "monitor",
    "data_manager",
    "other_dm",
    "participant",
)


@dataclass(frozen=True)
class Place:
    """An object of the world and where it sits: its study, site and participant."""

    gid: str
    study: uuid.UUID
    site: uuid.UUID | None = None
    participant: uuid.UUID | None = None


@dataclass
class World:
    http: httpx.AsyncClient
    tokens: dict[str, str] = field(default_factory=dict)
    places: dict[str, Place] = field(default_factory=dict)
    staff: dict[str, str] = field(default_factory=dict)  # role name -> StaffUser global id
    emails: dict[str, str] = field(default_factory=dict)
    identifiers: dict[str, str] = field(default_factory=dict)  # gid -> screening number, serial
    counter: itertools.count[int] = field(default_factory=itertools.count)
    due: dict[str, Any] = field(default_factory=dict)  # an open diary occurrence of "own"

    async def gql(self, who: str | None, query: str, **variables: Any) -> dict[str, Any]:
        token = self.tokens.get(who) if who else None
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}{uuid.uuid4().hex[:4]}".upper()


# --- building the world ------------------------------------------------------------------

SET_CONTACT = 'mutation($p: ID!, $e: String) { setParticipantContact(input: {participantId: $p, fullName: "Full Name", email: $e, address: "Street 1"}) { __typename ... on MutationError { code message field } } }'


async def _login(world: World, email: str) -> dict[str, str]:
    body = await world.gql(None, LOGIN, e=email, p=PASSWORD)
    tokens: dict[str, str] = body["data"]["login"]
    return tokens


async def _staff(world: World, settings: Settings, name: str, grants: tuple[Grant, ...]) -> None:
    email = await create_user(settings, grants)
    world.emails[name] = email
    world.tokens[name] = (await _login(world, email))["accessToken"]
    viewer = await world.gql(name, "{ viewer { id } }")
    user_id = uuid.UUID(viewer["data"]["viewer"]["id"])
    world.staff[name] = to_global_id("StaffUser", user_id)


async def _participant(world: World, site: str, recorder: str | None = None) -> Place:
    where = world.places[site]
    number = world.unique("N")
    made = await world.gql("admin", REGISTER, s=where.gid, n=number)
    gid = made["data"]["registerParticipant"]["participant"]["id"]
    world.identifiers[gid] = number
    if recorder is not None:
        email = f"{uuid.uuid4().hex[:10]}@example.org"
        await world.gql(recorder, SET_CONTACT, p=gid, e=email)
        world.emails[gid] = email
    return Place(gid, where.study, where.site, from_global_id(gid)[1])


async def _build(world: World, settings: Settings) -> None:
    await _staff(world, settings, "admin", (Grant(Role.ADMIN),))
    for study, sites in (("A", ("A1", "A2")), ("B", ("B1",))):
        made = await world.gql("admin", CREATE_STUDY, c=world.unique(f"MX{study}"))
        gid = made["data"]["createStudy"]["study"]["id"]
        world.places[study] = Place(gid, from_global_id(gid)[1])
        for site in sites:
            created = await world.gql("admin", CREATE_SITE, s=gid, c=site)
            sid = created["data"]["createSite"]["site"]["id"]
            world.places[site] = Place(sid, world.places[study].study, from_global_id(sid)[1])
    # A study with nothing in it, for closing and purging (it stays out of STUDIES).
    made = await world.gql("admin", CREATE_STUDY, c=world.unique("MXC"))
    gid = made["data"]["createStudy"]["study"]["id"]
    world.places["C"] = Place(gid, from_global_id(gid)[1])
    a, b, a1, a2 = (world.places[k] for k in ("A", "B", "A1", "A2"))
    at_a1 = (StudyId(a.study), SiteId(a1.site))  # type: ignore[arg-type]
    await _staff(world, settings, "coordinator", (Grant(Role.COORDINATOR, *at_a1),))
    await _staff(world, settings, "investigator", (Grant(Role.INVESTIGATOR, *at_a1),))
    await _staff(world, settings, "monitor", (Grant(Role.MONITOR, *at_a1),))
    await _staff(world, settings, "data_manager", (Grant(Role.DATA_MANAGER, StudyId(a.study)),))
    await _staff(world, settings, "other_dm", (Grant(Role.DATA_MANAGER, StudyId(b.study)),))
    at_a2 = (StudyId(a.study), SiteId(a2.site))  # type: ignore[arg-type]
    await _staff(world, settings, "a2_coordinator", (Grant(Role.COORDINATOR, *at_a2),))
    world.places["own"] = await _participant(world, "A1", recorder="coordinator")
    world.places["other"] = await _participant(world, "A2", recorder="a2_coordinator")
    await _enrol_own(world)
    await _build_trial(world)


CREATE_VISIT_DEF = 'mutation($s: ID!, $c: String!) { createVisitDefinition(input: {studyId: $s, code: $c, name: "Baseline", day: 0, windowBefore: 2, windowAfter: 2, modes: [VIDEO, PHONE]}) { __typename ... on CreateVisitDefinitionSuccess { visitDefinition { id } } ... on MutationError { code message field } } }'
SCHEDULE = 'mutation($p: ID!, $d: ID!) { scheduleVisit(input: {participantId: $p, visitDefinitionId: $d, mode: VIDEO, localStart: "2031-04-01T09:00"}) { __typename ... on VisitSuccess { visit { id } } ... on MutationError { code message field } } }'
RAISE = 'mutation($r: ID!) { raiseQuery(input: {recordId: $r, field: "screeningNumber", question: "Please confirm."}) { __typename ... on DataQuerySuccess { query { id } } ... on MutationError { code message field } } }'


async def _build_trial(world: World) -> None:
    a = world.places["A"]
    arm = await world.gql("admin", CREATE_ARM, s=a.gid, c="ARM1")
    world.places["arm"] = Place(arm["data"]["createArm"]["arm"]["id"], a.study)
    made = await world.gql("admin", CREATE_VISIT_DEF, s=a.gid, c="V1")
    world.places["definition"] = Place(
        made["data"]["createVisitDefinition"]["visitDefinition"]["id"], a.study
    )
    await _publish_and_sign(world)
    for label, who in (("own", "coordinator"), ("other", "a2_coordinator")):
        person = world.places[label]
        visit = await world.gql(who, SCHEDULE, p=person.gid, d=world.places["definition"].gid)
        gid = visit["data"]["scheduleVisit"]["visit"]["id"]
        world.places[f"visit_{label}"] = Place(gid, person.study, person.site, person.participant)
    for label, who in (("own", "monitor"), ("other", "data_manager")):
        person = world.places[label]
        query = await world.gql(who, RAISE, r=person.gid)
        gid = query["data"]["raiseQuery"]["query"]["id"]
        world.places[f"query_{label}"] = Place(gid, person.study, person.site, person.participant)
    await _build_diaries_and_devices(world)
    for label, study in (("export_a", "A"), ("export_b", "B")):
        started = await world.gql("admin", START_EXPORT, t=world.places[study].gid)
        gid = started["data"]["startExport"]["export"]["id"]
        world.places[label] = Place(gid, world.places[study].study)
    for label, study in (("hook_a", "A"), ("hook_b", "B")):
        world.places[label] = await _hook(world, study)


async def _hook(world: World, study: str) -> Place:
    """A webhook endpoint of the study, registered by an administrator. It points at the
    discard port: a worker running later in the session gets "refused" at once."""
    made = await world.gql("admin", CREATE_HOOK, t=world.places[study].gid)
    gid = made["data"]["createWebhookEndpoint"]["endpoint"]["id"]
    return Place(gid, world.places[study].study)


async def _publish_and_sign(world: World) -> None:
    """A consent version for study A, signed by both participants (the other one's app too)."""
    published = await world.gql("admin", PUBLISH, s=world.places["A"].gid)
    version = published["data"]["publishConsentVersion"]["consentVersion"]["id"]
    code = await world.gql("a2_coordinator", ISSUE_CODE, p=world.places["other"].gid)
    other_app = await world.gql(
        None, ENROL, c=code["data"]["issueEnrolmentCode"]["enrolment"]["code"]
    )
    world.tokens["_other_app"] = other_app["data"]["enrolParticipant"]["accessToken"]
    for label, app in (("own", "participant"), ("other", "_other_app")):
        signed = await world.gql(app, SIGN_CONSENT, v=version)
        person = world.places[label]
        gid = signed["data"]["signConsent"]["consent"]["id"]
        world.places[f"consent_{label}"] = Place(gid, person.study, person.site, person.participant)


async def _open_occurrence(world: World, app: str, person: Place) -> dict[str, Any]:
    return await open_occurrence(lambda q, **v: world.gql(app, q, **v), person.gid)


async def _build_diaries_and_devices(world: World) -> None:
    """Study A: a questionnaire, an hourly diary, both participants enrolled with an entry,
    a heart-rate device each and a reading each."""
    a = world.places["A"]
    published = await world.gql("admin", PUBLISH_QUESTIONNAIRE, s=a.gid, c="PAIN")
    assert _data(published, "publishQuestionnaire", "questionnaire"), published
    made = await world.gql("admin", CREATE_DIARY, s=a.gid, t=HOURS)
    assert _data(made, "createDiarySchedule", "__typename") == "CreateDiaryScheduleSuccess", made
    for label, staff, app in (
        ("own", "coordinator", "participant"),
        ("other", "a2_coordinator", "_other_app"),
    ):
        person = world.places[label]
        enrolled = await world.gql(staff, ENROL_ARM, p=person.gid, a=world.places["arm"].gid)
        assert _data(enrolled, "enrolInStudy", "__typename") == "ParticipantSuccess", enrolled
        due = await _open_occurrence(world, app, person)
        world.due = world.due or due
        entry = diary_entry(due)
        sent = await world.gql(app, SUBMIT_DIARY, e=[entry])
        result = _data(sent, "submitDiaryEntries", "results")[0]
        assert result["outcome"] == "ACCEPTED", sent
        world.places[f"entry_{label}"] = Place(
            result["entry"]["id"], person.study, person.site, person.participant
        )
        site = world.places["A1" if label == "own" else "A2"]
        serial = world.unique("SN")
        registered = await world.gql(staff, REGISTER_DEVICE, t=site.gid, n=serial)
        assert _data(registered, "registerDevice", "device"), registered
        device = registered["data"]["registerDevice"]["device"]["id"]
        world.identifiers[device] = serial
        await world.gql(staff, ASSIGN_DEVICE, t=device, p=person.gid)
        world.places[f"device_{label}"] = Place(device, person.study, person.site)
        readings = await world.gql(app, SUBMIT_READINGS, i=[heart_rate(device)])
        outcome = _data(readings, "submitReadings", "results")[0]
        assert outcome["outcome"] == "ACCEPTED", readings
        world.places[f"reading_{label}"] = Place(
            outcome["readingId"], person.study, person.site, person.participant
        )
        await _quarantined_reading(world, label, staff, app, site)


async def _quarantined_reading(world: World, label: str, staff: str, app: str, site: Place) -> None:
    """A reading from a device of the site that nobody holds: kept for review."""
    person = world.places[label]
    registered = await world.gql(staff, REGISTER_DEVICE, t=site.gid, n=world.unique("SN"))
    spare = registered["data"]["registerDevice"]["device"]["id"]
    readings = await world.gql(app, SUBMIT_READINGS, i=[heart_rate(spare)])
    outcome = _data(readings, "submitReadings", "results")[0]
    assert (outcome["outcome"], outcome["code"]) == ("QUARANTINED", "OUTSIDE_ASSIGNMENT"), readings
    world.places[f"quarantine_{label}"] = Place(
        outcome["readingId"], person.study, person.site, person.participant
    )


async def _enrol_own(world: World) -> None:
    code = await world.gql("coordinator", ISSUE_CODE, p=world.places["own"].gid)
    enrolled = await world.gql(
        None, ENROL, c=code["data"]["issueEnrolmentCode"]["enrolment"]["code"]
    )
    world.tokens["participant"] = enrolled["data"]["enrolParticipant"]["accessToken"]


@pytest.fixture(scope="module")
async def world(app: Starlette, settings: Settings) -> AsyncIterator[World]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        built = World(http)
        await _build(built, settings)
        yield built


# --- the cases: one per guarded, public or signed-in field ----------------------------------

Run = Callable[[World, str, str], Awaitable[bool]]  # (world, role, target) -> got through?


@dataclass(frozen=True)
class Case:
    targets: tuple[str, ...]
    run: Run


def _data(body: dict[str, Any], *path: str) -> Any:
    value: Any = body.get("data")
    for step in path:
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


async def q_studies(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, "{ studies { id } }")
    return {"id": w.places[target].gid} in (_data(body, "studies") or [])


async def q_study(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, "query($id: ID!) { study(id: $id) { id } }", id=w.places[target].gid)
    return _data(body, "study") is not None and not _denied(body)


async def q_node(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, "query($id: ID!) { node(id: $id) { id } }", id=w.places[target].gid)
    return _data(body, "node") is not None


async def q_find(w: World, who: str, target: str) -> bool:
    place = w.places[target]
    body = await w.gql(
        who,
        "query($s: ID!, $e: String) { findParticipantsByContact(studyId: $s, email: $e) { id } }",
        s=w.places["A"].gid,
        e=w.emails[place.gid],
    )
    return {"id": place.gid} in (_data(body, "findParticipantsByContact") or [])


async def q_trail(w: World, who: str, target: str) -> bool:
    body = await w.gql(
        who,
        "query($p: ID!) { auditTrail(filter: {participantId: $p}) { edges { node { position } } } }",
        p=w.places[target].gid,
    )
    return bool(_data(body, "auditTrail", "edges"))


async def q_staff(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, "{ staffUsers(first: 1) { edges { node { id } } } }")
    return _data(body, "staffUsers") is not None


async def q_viewer(w: World, who: str, target: str) -> bool:
    return _data(await w.gql(who, "{ viewer { kind } }"), "viewer") is not None


def _mutation(name: str) -> Callable[[dict[str, Any]], bool]:
    def got_through(body: dict[str, Any]) -> bool:
        result = _data(body, name)
        return result is not None and (
            result.get("__typename") != "MutationError" or result.get("code") not in DENIALS
        )

    return got_through


async def m_create_study(w: World, who: str, target: str) -> bool:
    return _mutation("createStudy")(await w.gql(who, CREATE_STUDY, c=w.unique("MS")))


async def m_create_site(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, CREATE_SITE, s=w.places[target].gid, c=w.unique("S"))
    return _mutation("createSite")(body)


async def m_register(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, REGISTER, s=w.places[target].gid, n=w.unique("R"))
    return _mutation("registerParticipant")(body)


async def m_status(w: World, who: str, target: str) -> bool:
    query = 'mutation($p: ID!) { changeParticipantStatus(input: {participantId: $p, status: CONSENTED, reason: "signed"}) { __typename ... on MutationError { code message field } } }'
    return _mutation("changeParticipantStatus")(await w.gql(who, query, p=w.places[target].gid))


async def m_contact(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, SET_CONTACT, p=w.places[target].gid, e=w.emails[w.places[target].gid])
    return _mutation("setParticipantContact")(body)


async def m_redact(w: World, who: str, target: str) -> bool:
    query = 'mutation($p: ID!) { redactParticipantContact(input: {participantId: $p, field: FULL_NAME, reason: "typo", replacement: "Full Name"}) { __typename ... on MutationError { code message field } } }'
    return _mutation("redactParticipantContact")(await w.gql(who, query, p=w.places[target].gid))


async def m_erase(w: World, who: str, target: str) -> bool:
    fresh = await _participant(w, "A1" if target == "own" else "A2")
    query = 'mutation($p: ID!) { eraseParticipant(input: {participantId: $p, legalBasis: "GDPR"}) { __typename ... on MutationError { code message field } } }'
    return _mutation("eraseParticipant")(await w.gql(who, query, p=fresh.gid))


async def m_issue(w: World, who: str, target: str) -> bool:
    return _mutation("issueEnrolmentCode")(await w.gql(who, ISSUE_CODE, p=w.places[target].gid))


async def m_enrol(w: World, who: str, target: str) -> bool:
    fresh = await _participant(w, "A1")
    code = await w.gql("admin", ISSUE_CODE, p=fresh.gid)
    value = code["data"]["issueEnrolmentCode"]["enrolment"]["code"]
    return _mutation("enrolParticipant")(await w.gql(who, ENROL, c=value))


async def m_create_user(w: World, who: str, target: str) -> bool:
    query = 'mutation($e: String!) { createStaffUser(input: {email: $e, name: "N", password: "a long password 1", grants: []}) { __typename ... on MutationError { code message field } } }'
    return _mutation("createStaffUser")(await w.gql(who, query, e=f"{w.unique('u')}@example.org"))


async def m_grants(w: World, who: str, target: str) -> bool:
    query = "mutation($u: ID!) { setStaffGrants(input: {userId: $u, add: [], remove: []}) { __typename ... on MutationError { code } } }"
    return _mutation("setStaffGrants")(await w.gql(who, query, u=w.staff["monitor"]))


async def m_user_status(w: World, who: str, target: str) -> bool:
    query = 'mutation($u: ID!) { setStaffUserStatus(input: {userId: $u, status: ACTIVE, reason: "check"}) { __typename ... on MutationError { code message field } } }'
    return _mutation("setStaffUserStatus")(await w.gql(who, query, u=w.staff["monitor"]))


async def m_login(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, LOGIN, e=w.emails["monitor"], p=PASSWORD)
    return _mutation("login")(body)


async def m_refresh(w: World, who: str, target: str) -> bool:
    fresh = await _login(w, w.emails["monitor"])
    query = "mutation($t: String!) { refreshSession(input: {refreshToken: $t}) { __typename ... on MutationError { code } } }"
    return _mutation("refreshSession")(await w.gql(who, query, t=fresh["refreshToken"]))


async def m_logout(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, "mutation { logout { __typename ... on MutationError { code } } }")
    got_through = _mutation("logout")(body)
    if got_through and who in w.emails:  # sign that role in again for the tests after this one
        w.tokens[who] = (await _login(w, w.emails[who]))["accessToken"]
    if got_through and who == "participant":
        await _enrol_own(w)
    return got_through


async def m_password(w: World, who: str, target: str) -> bool:
    query = 'mutation { changePassword(input: {currentPassword: "not it at all", newPassword: "another long one"}) { __typename ... on MutationError { code message field } } }'
    return _mutation("changePassword")(await w.gql(who, query))


def f_nested(query: str, *path: str, find: str | None = None) -> Run:
    """A guarded field of a node: did the field come back (and hold the target, for lists)?

    The node is `path[0]`, or the target itself when that is "*".
    """

    async def run(w: World, who: str, target: str) -> bool:
        parent = w.places[target if path[0] == "*" else path[0]].gid
        body = await w.gql(who, query, id=parent)
        value = _data(body, "node", *path[1:])
        if find is None:
            return value is not None and not _denied(body)
        return w.places[target].gid in str(value)

    return run


async def f_viewer_participant(w: World, who: str, target: str) -> bool:
    return (
        _data(await w.gql(who, "{ viewer { participant { id } } }"), "viewer", "participant")
        is not None
    )


async def q_visits(w: World, who: str, target: str) -> bool:
    person = w.places[target.removeprefix("visit_")]
    body = await w.gql(
        who,
        "query($p: ID!) { visits(filter: {participantId: $p}) { edges { node { id } } } }",
        p=person.gid,
    )
    return w.places[target].gid in str(_data(body, "visits"))


async def q_data_queries(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, "{ dataQueries(first: 100) { edges { node { id } } } }")
    return w.places[target].gid in str(_data(body, "dataQueries"))


def _mutating(name: str, query: str, **fixed: str) -> Run:
    """A mutation run against the target's global id as `$t` (plus fixed variables)."""

    async def run(w: World, who: str, target: str) -> bool:
        return _mutation(name)(await w.gql(who, query, t=w.places[target].gid, **fixed))

    return run


async def m_sign_consent(w: World, who: str, target: str) -> bool:
    body = await w.gql(
        "admin",
        "query($s: ID!) { node(id: $s) { ... on Study { consentVersions { id } } } }",
        s=w.places["A"].gid,
    )
    latest = _data(body, "node", "consentVersions")[-1]["id"]
    return _mutation("signConsent")(await w.gql(who, SIGN_CONSENT, v=latest))


async def m_enrol_in_study(w: World, who: str, target: str) -> bool:
    query = "mutation($t: ID!, $a: ID!) { enrolInStudy(input: {participantId: $t, armId: $a}) { __typename ... on MutationError { code } } }"
    return _mutation("enrolInStudy")(
        await w.gql(who, query, t=w.places[target].gid, a=w.places["arm"].gid)
    )


async def m_schedule(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, SCHEDULE, p=w.places[target].gid, d=w.places["definition"].gid)
    return _mutation("scheduleVisit")(body)


async def f_visit_notes(w: World, who: str, target: str) -> bool:
    body = await w.gql(
        who, "query($id: ID!) { node(id: $id) { ... on Visit { notes } } }", id=w.places[target].gid
    )
    return _data(body, "node") is not None and not _denied(body)


async def _got(w: World, who: str, query: str, field: str) -> bool:
    return _data(await w.gql(who, query), field) is not None


RECEIPT_OF = (
    "query($id: ID!) { node(id: $id) { ... on DiaryEntry { receipt { log eventId digest } } } }"
)
PROOF_OF = "query($r: ReceiptInput!) { inclusionProof(receipt: $r) { leafIndex } }"


async def _receipt(w: World, target: str) -> dict[str, Any]:
    body = await w.gql("admin", RECEIPT_OF, id=w.places[target].gid)
    receipt: dict[str, Any] = _data(body, "node", "receipt")
    assert receipt, body
    return receipt


async def q_inclusion_proof(w: World, who: str, target: str) -> bool:
    """Allowed: a proof, or "not sealed yet"; refused: NOT_FOUND like an unknown event."""
    body = await w.gql(who, PROOF_OF, r=await _receipt(w, target))
    return not _denied(body)


async def q_receipt_log_key(w: World, who: str, target: str) -> bool:
    log = (await _receipt(w, "entry_own"))["log"]
    return await _got(w, who, f'{{ receiptLogKey(log: "{log}") }}', "receiptLogKey")


async def q_push_key(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, "{ pushApplicationServerKey }")
    return "data" in body and not body.get("errors")


async def m_register_push(w: World, who: str, target: str) -> bool:
    device = Device("https://push.example.org/matrix")
    query = "mutation($e: String!, $k: String!, $a: String!) { registerPushSubscription(input: {endpoint: $e, keys: {p256dh: $k, auth: $a}}) { __typename ... on MutationError { code } } }"
    body = await w.gql(who, query, e=device.endpoint, k=device.p256dh, a=device.auth_b64)
    return _mutation("registerPushSubscription")(body)


async def m_submit_diary(w: World, who: str, target: str) -> bool:
    body = await w.gql(
        who, SUBMIT_DIARY, e=[diary_entry(w.due)], p=w.places[target].gid, r="Read out by phone"
    )
    return _mutation("submitDiaryEntries")(body)


async def m_submit_readings(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, SUBMIT_READINGS, i=[heart_rate(w.places["device_own"].gid, 75)])
    return _mutation("submitReadings")(body)


async def q_quarantined(w: World, who: str, target: str) -> bool:
    body = await w.gql(
        who,
        "query($s: ID!) { quarantinedReadings(siteId: $s) { edges { node { id status } } } }",
        s=w.places[target].gid,
    )
    held = w.places["quarantine_own" if target == "A1" else "quarantine_other"]
    return held.gid in str(_data(body, "quarantinedReadings"))


REVIEW = 'mutation($t: ID!) {{ {name}(input: {{readingId: $t, reason: "Watch set up early"}}) {{ __typename ... on MutationError {{ code }} }} }}'


async def m_register_device(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, REGISTER_DEVICE, t=w.places[target].gid, n=w.unique("SN"))
    return _mutation("registerDevice")(body)


async def m_assign_device(w: World, who: str, target: str) -> bool:
    owner = w.places[target.replace("device_", "")].gid
    body = await w.gql(who, ASSIGN_DEVICE, t=w.places[target].gid, p=owner)
    return _mutation("assignDevice")(body)


async def f_free_text(w: World, who: str, target: str) -> bool:
    body = await w.gql(
        who,
        "query($id: ID!) { node(id: $id) { ... on DiaryEntry { freeText } } }",
        id=w.places[target].gid,
    )
    return _data(body, "node") is not None and not _denied(body)


def _on_participant(selection: str, *path: str, find: str | None = None) -> Run:
    return f_nested(
        f"query($id: ID!) {{ node(id: $id) {{ ... on Participant {{ {selection} }} }} }}",
        "own",
        *path,
        find=find,
    )


START_EXPORT = "mutation($t: ID!) { startExport(input: {studyId: $t, format: SDTM}) { __typename ... on StartExportSuccess { export { id } } ... on MutationError { code } } }"
CANCEL_EXPORT = "mutation($t: ID!) { cancelExport(input: {exportId: $t}) { __typename ... on CancelExportSuccess { export { id } } ... on MutationError { code } } }"
EXPORTS = ("export_a", "export_b")
HOOK_RESULT = "__typename ... on MutationError { code }"
CREATE_HOOK = f'mutation($t: ID!) {{ createWebhookEndpoint(input: {{studyId: $t, url: "http://127.0.0.1:9/in", eventTypes: ["visit.changed"]}}) {{ {HOOK_RESULT} ... on WebhookSecretSuccess {{ endpoint {{ id }} }} }} }}'
UPDATE_HOOK = f'mutation($t: ID!) {{ updateWebhookEndpoint(input: {{endpointId: $t, url: "http://127.0.0.1:9/in"}}) {{ {HOOK_RESULT} }} }}'
ENABLE_HOOK = f"mutation($t: ID!) {{ setWebhookEndpointEnabled(input: {{endpointId: $t, enabled: true}}) {{ {HOOK_RESULT} }} }}"
ROTATE_HOOK = f"mutation($t: ID!) {{ rotateWebhookSecret(input: {{endpointId: $t, overlapMinutes: 5}}) {{ {HOOK_RESULT} }} }}"
REPLAY_HOOK = f"mutation($t: ID!) {{ replayWebhooks(input: {{endpointId: $t, fromPosition: 1}}) {{ {HOOK_RESULT} }} }}"
DELETE_HOOK = (
    f"mutation($t: ID!) {{ deleteWebhookEndpoint(input: {{endpointId: $t}}) {{ {HOOK_RESULT} }} }}"
)
HOOKS = ("hook_a", "hook_b")


async def m_delete_hook(w: World, who: str, target: str) -> bool:
    """On a fresh endpoint of the target's study: a deletion that got through ends it."""
    fresh = await _hook(w, "A" if target == "hook_a" else "B")
    return _mutation("deleteWebhookEndpoint")(await w.gql(who, DELETE_HOOK, t=fresh.gid))


PEOPLE = ("own", "other")
ENTRIES = ("entry_own", "entry_other")
DEVICES = ("device_own", "device_other")
READINGS = ("reading_own", "reading_other")
QUARANTINED = ("quarantine_own", "quarantine_other")
VISITS = ("visit_own", "visit_other")
QUERIES = ("query_own", "query_other")
CONSENTS = ("consent_own", "consent_other")
STUDIES = ("A", "B")
SITES = ("A1", "A2", "B1")
NOWHERE = ("A",)  # global actions: the target does not matter


# --- adverse events ------------------------------------------------------------------------

AE_RESULT = "__typename ... on AdverseEventSuccess { adverseEvent { id version } } ... on MutationError { code }"
AE_EVENT = {
    "term": "Headache",
    "onset": "2026-06",
    "ongoing": True,
    "severity": "MILD",
    "relationship": "NOT_RELATED",
    "actionTaken": "DOSE_NOT_CHANGED",
    "outcome": "NOT_RECOVERED",
}
AE_REPORT = f'mutation($p: ID!) {{ reportAdverseEvent(input: {{participantId: $p, description: "My head aches", onset: "2026-06"}}) {{ {AE_RESULT} }} }}'
AE_RECORD = f"mutation($p: ID!, $e: AdverseEventInput!) {{ recordAdverseEvent(input: {{participantId: $p, event: $e}}) {{ {AE_RESULT} }} }}"
AE_CONFIRM = f"mutation($a: ID!, $v: Int!, $e: AdverseEventInput!) {{ confirmAdverseEvent(input: {{adverseEventId: $a, version: $v, event: $e}}) {{ {AE_RESULT} }} }}"
AE_CORRECT = f"mutation($a: ID!, $v: Int!, $e: AdverseEventInput!) {{ correctAdverseEvent(input: {{adverseEventId: $a, version: $v, event: $e, reasonCode: TRANSCRIPTION_ERROR}}) {{ {AE_RESULT} }} }}"
AE_TO_SPONSOR = f"mutation($a: ID!) {{ reportAdverseEventToSponsor(input: {{adverseEventId: $a}}) {{ {AE_RESULT} }} }}"
AE_APPS = {"own": "participant", "other": "_other_app"}
AE_SITE_STAFF = {"own": "coordinator", "other": "a2_coordinator"}


async def _reported_adverse_event(w: World, target: str) -> dict[str, Any]:
    """A fresh adverse event of the target participant, reported from their own app."""
    body = await w.gql(AE_APPS[target], AE_REPORT, p=w.places[target].gid)
    event: dict[str, Any] = body["data"]["reportAdverseEvent"]["adverseEvent"]
    return event


async def q_adverse_events(w: World, who: str, target: str) -> bool:
    await _reported_adverse_event(w, target)
    query = "query($p: ID!) { adverseEvents(participantId: $p) { id } }"
    body = await w.gql(who, query, p=w.places[target].gid)
    return bool(_data(body, "adverseEvents")) and not _denied(body)


async def m_report_adverse_event(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, AE_REPORT, p=w.places[target].gid)
    return _mutation("reportAdverseEvent")(body)


async def m_record_adverse_event(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, AE_RECORD, p=w.places[target].gid, e=AE_EVENT)
    return _mutation("recordAdverseEvent")(body)


async def m_confirm_adverse_event(w: World, who: str, target: str) -> bool:
    event = await _reported_adverse_event(w, target)
    body = await w.gql(who, AE_CONFIRM, a=event["id"], v=event["version"], e=AE_EVENT)
    return _mutation("confirmAdverseEvent")(body)


async def m_correct_adverse_event(w: World, who: str, target: str) -> bool:
    event = await _reported_adverse_event(w, target)
    confirmed = await w.gql(
        AE_SITE_STAFF[target], AE_CONFIRM, a=event["id"], v=event["version"], e=AE_EVENT
    )
    event = confirmed["data"]["confirmAdverseEvent"]["adverseEvent"]
    body = await w.gql(
        who, AE_CORRECT, a=event["id"], v=event["version"], e={**AE_EVENT, "severity": "MODERATE"}
    )
    return _mutation("correctAdverseEvent")(body)


async def m_adverse_event_to_sponsor(w: World, who: str, target: str) -> bool:
    serious = {**AE_EVENT, "seriousness": ["HOSPITALISATION"]}
    made = await w.gql(AE_SITE_STAFF[target], AE_RECORD, p=w.places[target].gid, e=serious)
    event = made["data"]["recordAdverseEvent"]["adverseEvent"]
    body = await w.gql(who, AE_TO_SPONSOR, a=event["id"])
    return _mutation("reportAdverseEventToSponsor")(body)


async def f_adverse_event_words(w: World, who: str, target: str) -> bool:
    event = await _reported_adverse_event(w, target)
    query = "query($a: ID!) { node(id: $a) { ... on AdverseEvent { description } } }"
    body = await w.gql(who, query, a=event["id"])
    return _data(body, "node", "description") is not None and not _denied(body)


# --- concomitant medications ---------------------------------------------------------------

CM_RESULT = "__typename ... on MedicationSuccess { medication { id version } } ... on MutationError { code }"
CM = {"name": "Paracetamol", "dose": "500", "doseUnit": "mg", "start": "2026-06", "ongoing": True}
CM_REPORT = f"mutation($p: ID!, $m: MedicationInput!) {{ reportMedication(input: {{participantId: $p, medication: $m}}) {{ {CM_RESULT} }} }}"
CM_RECORD = f"mutation($p: ID!, $m: MedicationInput!) {{ recordMedication(input: {{participantId: $p, medication: $m}}) {{ {CM_RESULT} }} }}"
CM_CONFIRM = f"mutation($a: ID!, $v: Int!, $m: MedicationInput!) {{ confirmMedication(input: {{medicationId: $a, version: $v, medication: $m}}) {{ {CM_RESULT} }} }}"
CM_CORRECT = f"mutation($a: ID!, $v: Int!, $m: MedicationInput!) {{ correctMedication(input: {{medicationId: $a, version: $v, medication: $m, reasonCode: TRANSCRIPTION_ERROR}}) {{ {CM_RESULT} }} }}"


async def _reported_medication(w: World, target: str) -> dict[str, Any]:
    body = await w.gql(AE_APPS[target], CM_REPORT, p=w.places[target].gid, m=CM)
    medication: dict[str, Any] = body["data"]["reportMedication"]["medication"]
    return medication


async def q_medications(w: World, who: str, target: str) -> bool:
    await _reported_medication(w, target)
    query = "query($p: ID!) { concomitantMedications(participantId: $p) { id } }"
    body = await w.gql(who, query, p=w.places[target].gid)
    return bool(_data(body, "concomitantMedications")) and not _denied(body)


async def m_report_medication(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, CM_REPORT, p=w.places[target].gid, m=CM)
    return _mutation("reportMedication")(body)


async def m_record_medication(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, CM_RECORD, p=w.places[target].gid, m=CM)
    return _mutation("recordMedication")(body)


async def m_confirm_medication(w: World, who: str, target: str) -> bool:
    made = await _reported_medication(w, target)
    body = await w.gql(who, CM_CONFIRM, a=made["id"], v=made["version"], m=CM)
    return _mutation("confirmMedication")(body)


async def m_correct_medication(w: World, who: str, target: str) -> bool:
    made = await _reported_medication(w, target)
    confirmed = await w.gql(
        AE_SITE_STAFF[target], CM_CONFIRM, a=made["id"], v=made["version"], m=CM
    )
    made = confirmed["data"]["confirmMedication"]["medication"]
    body = await w.gql(who, CM_CORRECT, a=made["id"], v=made["version"], m={**CM, "dose": "1000"})
    return _mutation("correctMedication")(body)


# --- protocol deviations -------------------------------------------------------------------

DV_RESULT = (
    "__typename ... on DeviationSuccess { deviation { id version } } ... on MutationError { code }"
)
DV_RECORD = f'mutation($p: ID!) {{ recordDeviation(input: {{participantId: $p, category: OTHER, severity: MINOR, term: "Diary reminder sent late"}}) {{ {DV_RESULT} }} }}'
DV_RESOLVE = f'mutation($d: ID!, $v: Int!) {{ resolveDeviation(input: {{deviationId: $d, version: $v, resolution: "Reminder settings fixed"}}) {{ {DV_RESULT} }} }}'
DV_RECLASSIFY = f"mutation($d: ID!, $v: Int!) {{ reclassifyDeviation(input: {{deviationId: $d, version: $v, category: STUDY_PROCEDURE, severity: MAJOR, reasonCode: OTHER}}) {{ {DV_RESULT} }} }}"


async def _recorded_deviation(w: World, target: str) -> dict[str, Any]:
    body = await w.gql(AE_SITE_STAFF[target], DV_RECORD, p=w.places[target].gid)
    deviation: dict[str, Any] = body["data"]["recordDeviation"]["deviation"]
    return deviation


async def q_deviations(w: World, who: str, target: str) -> bool:
    await _recorded_deviation(w, target)
    query = "query($p: ID!) { protocolDeviations(participantId: $p) { id } }"
    body = await w.gql(who, query, p=w.places[target].gid)
    return bool(_data(body, "protocolDeviations")) and not _denied(body)


async def m_record_deviation(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, DV_RECORD, p=w.places[target].gid)
    return _mutation("recordDeviation")(body)


async def m_resolve_deviation(w: World, who: str, target: str) -> bool:
    made = await _recorded_deviation(w, target)
    body = await w.gql(who, DV_RESOLVE, d=made["id"], v=made["version"])
    return _mutation("resolveDeviation")(body)


async def m_reclassify_deviation(w: World, who: str, target: str) -> bool:
    made = await _recorded_deviation(w, target)
    body = await w.gql(who, DV_RECLASSIFY, d=made["id"], v=made["version"])
    return _mutation("reclassifyDeviation")(body)


# --- alerts and the site contact -----------------------------------------------------------

SET_ALERT_RULE = "mutation($t: ID!) { setAlertRule(input: {studyId: $t, kind: VISIT_OVERDUE}) { __typename ... on MutationError { code } } }"
SET_SITE_CONTACT = 'mutation($t: ID!) { setSiteContact(input: {siteId: $t, contact: "+49 30 1234 567"}) { __typename ... on MutationError { code } } }'
SERIOUS_RULE = "mutation($s: ID!) { setAlertRule(input: {studyId: $s, kind: SERIOUS_ADVERSE_EVENT}) { __typename } }"
# The default list again: the cases after it still correct with TRANSCRIPTION_ERROR.
SET_REASON_CODES = "mutation($t: ID!) { setStudyReasonCodes(input: {studyId: $t, reasonCodes: [TRANSCRIPTION_ERROR, PARTICIPANT_CLARIFICATION, DEVICE_ERROR, OTHER]}) { __typename ... on MutationError { code } } }"
ACKNOWLEDGE = 'mutation($a: ID!) { acknowledgeAlert(input: {alertId: $a, note: "Called back"}) { __typename ... on MutationError { code } } }'


async def _open_alert(w: World, target: str) -> str:
    """A fresh open alert on the target participant: a serious adverse event their site records."""
    if "serious_rule" not in w.due:
        await w.gql("admin", SERIOUS_RULE, s=w.places["A"].gid)
        w.due["serious_rule"] = True
    serious = {**AE_EVENT, "seriousness": ["HOSPITALISATION"]}
    staff = AE_SITE_STAFF[target]
    made = await w.gql(staff, AE_RECORD, p=w.places[target].gid, e=serious)
    assert made["data"]["recordAdverseEvent"]["__typename"] == "AdverseEventSuccess", made
    site = to_global_id("Site", w.places[target].site)  # type: ignore[arg-type]
    body = await w.gql(staff, "query($s: ID!) { alerts(siteId: $s, status: OPEN) { id } }", s=site)
    return str(body["data"]["alerts"][0]["id"])


async def m_acknowledge_alert(w: World, who: str, target: str) -> bool:
    alert = await _open_alert(w, target)
    return _mutation("acknowledgeAlert")(await w.gql(who, ACKNOWLEDGE, a=alert))


async def q_alerts(w: World, who: str, target: str) -> bool:
    body = await w.gql(who, "query($s: ID!) { alerts(siteId: $s) { id } }", s=w.places[target].gid)
    return _data(body, "alerts") is not None and not _denied(body)


DOWNLOAD_MY_DATA = "mutation($t: ID!) { downloadMyData(input: {participantId: $t}) { __typename ... on MutationError { code } } }"


CASES: dict[str, Case] = {
    "Query.protocolDeviations": Case(PEOPLE, q_deviations),
    "Mutation.recordDeviation": Case(PEOPLE, m_record_deviation),
    "Mutation.resolveDeviation": Case(PEOPLE, m_resolve_deviation),
    "Mutation.reclassifyDeviation": Case(PEOPLE, m_reclassify_deviation),
    "Query.concomitantMedications": Case(PEOPLE, q_medications),
    "Mutation.reportMedication": Case(PEOPLE, m_report_medication),
    "Mutation.recordMedication": Case(PEOPLE, m_record_medication),
    "Mutation.confirmMedication": Case(PEOPLE, m_confirm_medication),
    "Mutation.correctMedication": Case(PEOPLE, m_correct_medication),
    "Query.adverseEvents": Case(PEOPLE, q_adverse_events),
    "Mutation.reportAdverseEvent": Case(PEOPLE, m_report_adverse_event),
    "Mutation.recordAdverseEvent": Case(PEOPLE, m_record_adverse_event),
    "Mutation.confirmAdverseEvent": Case(PEOPLE, m_confirm_adverse_event),
    "Mutation.correctAdverseEvent": Case(PEOPLE, m_correct_adverse_event),
    "Mutation.reportAdverseEventToSponsor": Case(PEOPLE, m_adverse_event_to_sponsor),
    "AdverseEvent.description": Case(PEOPLE, f_adverse_event_words),
    "Query.studies": Case(STUDIES, q_studies),
    "Query.study": Case(STUDIES, q_study),
    "Query.node": Case(STUDIES + SITES + PEOPLE + ENTRIES + DEVICES + EXPORTS + HOOKS, q_node),
    "Mutation.createWebhookEndpoint": Case(
        STUDIES, _mutating("createWebhookEndpoint", CREATE_HOOK)
    ),
    "Mutation.updateWebhookEndpoint": Case(HOOKS, _mutating("updateWebhookEndpoint", UPDATE_HOOK)),
    "Mutation.setWebhookEndpointEnabled": Case(
        HOOKS, _mutating("setWebhookEndpointEnabled", ENABLE_HOOK)
    ),
    "Mutation.rotateWebhookSecret": Case(HOOKS, _mutating("rotateWebhookSecret", ROTATE_HOOK)),
    "Mutation.replayWebhooks": Case(HOOKS, _mutating("replayWebhooks", REPLAY_HOOK)),
    "Mutation.deleteWebhookEndpoint": Case(HOOKS, m_delete_hook),
    "Study.webhookEndpoints": Case(
        ("hook_a",),
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Study { webhookEndpoints { id } } } }",
            "A",
            "webhookEndpoints",
            find="e",
        ),
    ),
    "Query.inclusionProof": Case(ENTRIES, q_inclusion_proof),
    "Query.receiptLogKey": Case(NOWHERE, q_receipt_log_key),
    "Query.pushApplicationServerKey": Case(NOWHERE, q_push_key),
    "Mutation.registerPushSubscription": Case(NOWHERE, m_register_push),
    "Mutation.removePushSubscription": Case(
        NOWHERE,
        _mutating(
            "removePushSubscription",
            'mutation { removePushSubscription(input: {endpoint: "https://push.example.org/gone"}) { __typename ... on MutationError { code } } }',
        ),
    ),
    # Only the participant a reminder went to may acknowledge it; an id that is nobody's is
    # refused alike for everyone (the app's own acknowledgement: test_reminders_and_receipts).
    "Mutation.acknowledgeNotification": Case(
        NOWHERE,
        _mutating(
            "acknowledgeNotification",
            'mutation { acknowledgeNotification(input: {id: "00000000-0000-7000-8000-000000000000"}) { __typename ... on MutationError { code } } }',
        ),
    ),
    "Site.notificationReceipts": Case(
        ("A1",),
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Site { notificationReceipts { sent } } } }",
            "A1",
            "notificationReceipts",
        ),
    ),
    "Participant.notificationReceipts": Case(
        ("own",), _on_participant("notificationReceipts { sent }", "notificationReceipts")
    ),
    "Participant.notificationPlan": Case(
        ("own",), _on_participant("notificationPlan(days: 1) { version }", "notificationPlan")
    ),
    "Query.alerts": Case(SITES, q_alerts),
    "Site.alerts": Case(
        SITES,
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Site { alerts { id } } } }", "*", "alerts"
        ),
    ),
    "Study.alertRules": Case(
        STUDIES,
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Study { alertRules { id } } } }",
            "*",
            "alertRules",
        ),
    ),
    "Mutation.setAlertRule": Case(STUDIES, _mutating("setAlertRule", SET_ALERT_RULE)),
    "Mutation.setSiteContact": Case(SITES, _mutating("setSiteContact", SET_SITE_CONTACT)),
    "Mutation.setStudyReasonCodes": Case(
        STUDIES, _mutating("setStudyReasonCodes", SET_REASON_CODES)
    ),
    "Mutation.downloadMyData": Case(PEOPLE, _mutating("downloadMyData", DOWNLOAD_MY_DATA)),
    "Mutation.acknowledgeAlert": Case(PEOPLE, m_acknowledge_alert),
    "Query.exportSigningKey": Case(
        NOWHERE,
        lambda w, who, t: _got(w, who, "{ exportSigningKey }", "exportSigningKey"),
    ),
    "Mutation.startExport": Case(STUDIES, _mutating("startExport", START_EXPORT)),
    # Whoever may export may cancel: after the first one, "already ended" still got through.
    "Mutation.cancelExport": Case(EXPORTS, _mutating("cancelExport", CANCEL_EXPORT)),
    "Study.exports": Case(
        ("export_a",),
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Study { exports { id } } } }",
            "A",
            "exports",
            find="e",
        ),
    ),
    "Query.findParticipantsByContact": Case(PEOPLE, q_find),
    "Query.auditTrail": Case(PEOPLE, q_trail),
    "Query.staffUsers": Case(NOWHERE, q_staff),
    "Query.viewer": Case(NOWHERE, q_viewer),
    "Mutation.createStudy": Case(
        NOWHERE,
        m_create_study,
    ),
    "Mutation.createSite": Case(STUDIES, m_create_site),
    "Mutation.registerParticipant": Case(SITES, m_register),
    "Mutation.changeParticipantStatus": Case(PEOPLE, m_status),
    "Mutation.setParticipantContact": Case(PEOPLE, m_contact),
    "Mutation.redactParticipantContact": Case(PEOPLE, m_redact),
    "Mutation.eraseParticipant": Case(PEOPLE, m_erase),
    "Mutation.issueEnrolmentCode": Case(PEOPLE, m_issue),
    "Mutation.enrolParticipant": Case(NOWHERE, m_enrol),
    "Mutation.createStaffUser": Case(NOWHERE, m_create_user),
    "Mutation.setStaffGrants": Case(NOWHERE, m_grants),
    "Mutation.setStaffUserStatus": Case(NOWHERE, m_user_status),
    "Mutation.login": Case(NOWHERE, m_login),
    "Mutation.refreshSession": Case(NOWHERE, m_refresh),
    "Mutation.changePassword": Case(NOWHERE, m_password),
    "Mutation.logout": Case(NOWHERE, m_logout),
    "Study.sites": Case(
        ("A1", "A2"),
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Study { sites { id } } } }",
            "A",
            "sites",
            find="site",
        ),
    ),
    "Site.study": Case(
        SITES,
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Site { study { id } } } }", "*", "study"
        ),
    ),
    "Site.participants": Case(
        ("own",),
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Site { participants { edges { node { id } } } } } }",
            "A1",
            "participants",
            find="p",
        ),
    ),
    "Participant.contact": Case(
        ("own",),
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Participant { contact { fullName } } } }",
            "own",
            "contact",
        ),
    ),
    "Participant.site": Case(
        ("A1",),
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Participant { site { id } } } }",
            "own",
            "site",
        ),
    ),
    "Viewer.participant": Case(NOWHERE, f_viewer_participant),
    "Query.visits": Case(VISITS, q_visits),
    "Query.dataQueries": Case(QUERIES, q_data_queries),
    "Mutation.createArm": Case(
        STUDIES,
        _mutating(
            "createArm",
            'mutation($t: ID!) { createArm(input: {studyId: $t, code: "X", name: "X"}) { __typename ... on MutationError { code } } }',
        ),
    ),
    "Mutation.createVisitDefinition": Case(
        STUDIES,
        _mutating(
            "createVisitDefinition",
            'mutation($t: ID!) { createVisitDefinition(input: {studyId: $t, code: "VX", name: "X", day: 3, modes: [PHONE]}) { __typename ... on MutationError { code } } }',
        ),
    ),
    "Mutation.publishConsentVersion": Case(
        STUDIES,
        _mutating(
            "publishConsentVersion",
            'mutation($t: ID!) { publishConsentVersion(input: {studyId: $t, texts: [{language: "en", title: "C", body: "B"}]}) { __typename ... on MutationError { code } } }',
        ),
    ),
    "Mutation.signConsent": Case(NOWHERE, m_sign_consent),
    "Mutation.countersignConsent": Case(
        CONSENTS,
        _mutating(
            "countersignConsent",
            "mutation($t: ID!, $p: String!) { countersignConsent(input: {consentId: $t, password: $p}) { __typename ... on MutationError { code } } }",
            p=PASSWORD,
        ),
    ),
    "Mutation.enrolInStudy": Case(PEOPLE, m_enrol_in_study),
    "Mutation.reportTimezone": Case(
        NOWHERE,
        _mutating(
            "reportTimezone",
            'mutation { reportTimezone(input: {timezone: "Europe/Paris"}) { __typename ... on MutationError { code } } }',
        ),
    ),
    "Mutation.scheduleVisit": Case(PEOPLE, m_schedule),
    "Mutation.rescheduleVisit": Case(
        VISITS,
        _mutating(
            "rescheduleVisit",
            'mutation($t: ID!) { rescheduleVisit(input: {visitId: $t, localStart: "2031-04-02T10:00", reason: "asked"}) { __typename ... on MutationError { code } } }',
        ),
    ),
    "Mutation.signRecord": Case(
        VISITS,
        _mutating(
            "signRecord",
            "mutation($t: ID!, $p: String!) { signRecord(input: {recordId: $t, meaning: REVIEW, password: $p}) { __typename ... on MutationError { code } } }",
            p=PASSWORD,
        ),
    ),
    "Mutation.completeVisit": Case(
        VISITS,
        _mutating(
            "completeVisit",
            'mutation($t: ID!) { completeVisit(input: {visitId: $t, outcome: DONE, notes: "All fine"}) { __typename ... on MutationError { code } } }',
        ),
    ),
    "Mutation.cancelVisit": Case(
        VISITS,
        _mutating(
            "cancelVisit",
            'mutation($t: ID!) { cancelVisit(input: {visitId: $t, reason: "ill"}) { __typename ... on MutationError { code } } }',
        ),
    ),
    "Mutation.raiseQuery": Case(
        PEOPLE,
        _mutating(
            "raiseQuery",
            'mutation($t: ID!) { raiseQuery(input: {recordId: $t, question: "Why?"}) { __typename ... on MutationError { code } } }',
        ),
    ),
    "Mutation.answerQuery": Case(
        QUERIES,
        _mutating(
            "answerQuery",
            'mutation($t: ID!) { answerQuery(input: {queryId: $t, answer: "Checked."}) { __typename ... on MutationError { code } } }',
        ),
    ),
    "Mutation.closeQuery": Case(
        QUERIES,
        _mutating(
            "closeQuery",
            "mutation($t: ID!) { closeQuery(input: {queryId: $t}) { __typename ... on MutationError { code } } }",
        ),
    ),
    "Mutation.reopenQuery": Case(
        QUERIES,
        _mutating(
            "reopenQuery",
            'mutation($t: ID!) { reopenQuery(input: {queryId: $t, reason: "Source differs."}) { __typename ... on MutationError { code } } }',
        ),
    ),
    "Study.arms": Case(
        ("A",),
        f_nested("query($id: ID!) { node(id: $id) { ... on Study { arms { id } } } }", "A", "arms"),
    ),
    "Study.visitDefinitions": Case(
        ("A",),
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Study { visitDefinitions { id } } } }",
            "A",
            "visitDefinitions",
        ),
    ),
    "Study.consentVersions": Case(
        ("A",),
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Study { consentVersions { id } } } }",
            "A",
            "consentVersions",
        ),
    ),
    "Participant.consent": Case(
        ("own",),
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Participant { consent { current } } } }",
            "own",
            "consent",
        ),
    ),
    "Participant.visits": Case(
        ("visit_own",),
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Participant { visits { edges { node { id } } } } } }",
            "own",
            "visits",
            find="v",
        ),
    ),
    "Visit.participant": Case(
        ("visit_own",),
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Visit { participant { id } } } }",
            "*",
            "participant",
        ),
    ),
    "Visit.notes": Case(
        VISITS,
        f_visit_notes,
    ),
    "Mutation.publishQuestionnaire": Case(
        STUDIES,
        _mutating(
            "publishQuestionnaire",
            'mutation($t: ID!) { publishQuestionnaire(input: {studyId: $t, code: "MOOD", title: [{language: "en", text: "Mood"}], languages: ["en"], items: [{code: "M", type: INTEGER, minimum: "0", maximum: "5", texts: [{language: "en", text: "Mood?"}]}]}) { __typename ... on MutationError { code } } }',
        ),
    ),
    "Mutation.createDiarySchedule": Case(
        ("A",),
        _mutating(
            "createDiarySchedule",
            'mutation($t: ID!) { createDiarySchedule(input: {studyId: $t, questionnaireCode: "PAIN", times: ["21:00"], startDay: 500}) { __typename ... on MutationError { code } } }',
        ),
    ),
    "Mutation.submitDiaryEntries": Case(PEOPLE, m_submit_diary),
    "Mutation.correctDiaryEntry": Case(
        ENTRIES,
        _mutating(
            "correctDiaryEntry",
            'mutation($t: ID!) { correctDiaryEntry(input: {entryId: $t, changes: {PAIN: 4}, reason: "Misread"}) { __typename ... on MutationError { code } } }',
        ),
    ),
    "Mutation.registerDevice": Case(SITES, m_register_device),
    "Mutation.submitReadings": Case(NOWHERE, m_submit_readings),
    # Listed while still quarantined: before the review cases below.
    "Query.quarantinedReadings": Case(("A1", "A2"), q_quarantined),
    "Mutation.acceptQuarantinedReading": Case(
        QUARANTINED,
        _mutating("acceptQuarantinedReading", REVIEW.format(name="acceptQuarantinedReading")),
    ),
    "Mutation.rejectQuarantinedReading": Case(
        QUARANTINED,
        _mutating("rejectQuarantinedReading", REVIEW.format(name="rejectQuarantinedReading")),
    ),
    "Mutation.setStudyRetention": Case(
        STUDIES,
        _mutating(
            "setStudyRetention",
            'mutation($t: ID!) { setStudyRetention(input: {studyId: $t, years: 30, reason: "SOP"}) { __typename ... on MutationError { code } } }',
        ),
    ),
    # The admin closes the empty study C; everyone else is refused before its state counts.
    "Mutation.closeStudy": Case(
        ("C",),
        _mutating(
            "closeStudy",
            'mutation($t: ID!) { closeStudy(input: {studyId: $t, reason: "Ended"}) { __typename ... on MutationError { code } } }',
        ),
    ),
    # Refused for the admin too (not closed, or its retention not over), but not as a denial.
    "Mutation.purgeStudy": Case(
        ("C",),
        _mutating(
            "purgeStudy",
            'mutation($t: ID!) { purgeStudy(input: {studyId: $t, reason: "Over"}) { __typename ... on MutationError { code } } }',
        ),
    ),
    "Mutation.deleteReading": Case(
        READINGS,
        _mutating(
            "deleteReading",
            'mutation($t: ID!) { deleteReading(input: {readingId: $t, reason: "Strap loose"}) { __typename ... on MutationError { code } } }',
        ),
    ),
    "Mutation.unassignDevice": Case(
        DEVICES,
        _mutating(
            "unassignDevice",
            'mutation($t: ID!) { unassignDevice(input: {deviceId: $t, reason: "Broken"}) { __typename ... on MutationError { code } } }',
        ),
    ),
    "Mutation.assignDevice": Case(DEVICES, m_assign_device),
    "Study.questionnaires": Case(
        ("A",),
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Study { questionnaires { code } } } }",
            "A",
            "questionnaires",
        ),
    ),
    "Study.diarySchedules": Case(
        ("A",),
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Study { diarySchedules { id } } } }",
            "A",
            "diarySchedules",
        ),
    ),
    "Site.devices": Case(
        ("device_own",),
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Site { devices { id } } } }",
            "A1",
            "devices",
            find="device",
        ),
    ),
    "Site.compliance": Case(
        ("A1",),
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Site { compliance { expected } } } }",
            "A1",
            "compliance",
        ),
    ),
    "Participant.diaryDue": Case(
        ("own",),
        _on_participant(
            'diaryDue(start: "2030-01-01T00:00:00Z", end: "2030-01-02T00:00:00Z") { dueAt }',
            "diaryDue",
        ),
    ),
    "Participant.diaryEntries": Case(
        ("entry_own",),
        _on_participant("diaryEntries { edges { node { id } } }", "diaryEntries", find="e"),
    ),
    "Participant.compliance": Case(
        ("own",),
        _on_participant("compliance { expected }", "compliance"),
    ),
    "Participant.readings": Case(
        ("reading_own",),
        _on_participant(
            "readings(includeDeleted: true) { edges { node { id } } }", "readings", find="r"
        ),
    ),
    "Participant.readingSummaries": Case(
        ("own",),
        _on_participant(
            'readingSummaries(kind: HEART_RATE, fromDay: "2030-01-01", toDay: "2030-01-31") { day }',
            "readingSummaries",
        ),
    ),
    "Participant.screeningNumber": Case(
        PEOPLE,
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on Participant { screeningNumber } } }",
            "*",
            "screeningNumber",
        ),
    ),
    "Device.serial": Case(
        DEVICES,
        f_nested("query($id: ID!) { node(id: $id) { ... on Device { serial } } }", "*", "serial"),
    ),
    "DiaryEntry.changeRequests": Case(
        ENTRIES,
        f_nested(
            "query($id: ID!) { node(id: $id) { ... on DiaryEntry { changeRequests { items } } } }",
            "*",
            "changeRequests",
        ),
    ),
    "DiaryEntry.freeText": Case(
        ENTRIES,
        f_free_text,
    ),
}


def _denied(body: dict[str, Any]) -> bool:
    return any(e.get("extensions", {}).get("code") in DENIALS for e in body.get("errors", []))


# --- the tests ---------------------------------------------------------------------------


def _schema() -> GraphQLSchema:
    return build_schema(production=False)._schema


def test_every_schema_field_has_a_rule_and_every_rule_a_case() -> None:
    schema = _schema()
    missing = []
    for name, graphql_type in schema.type_map.items():
        if (
            name.startswith("__")
            or not isinstance(graphql_type, GraphQLObjectType)
            or name in CARRIERS
        ):
            continue
        rules = FIELD_RULES.get(name)
        if rules is None:
            missing.append(f"type {name}: neither in FIELD_RULES nor a carrier")
            continue
        missing += [f"{name}.{f}: no rule" for f in graphql_type.fields if f not in rules]
        missing += [
            f"{name}.{f}: rule for a field that does not exist"
            for f in rules
            if f not in graphql_type.fields
        ]
    for type_name, rules in FIELD_RULES.items():
        for field_name, rule in rules.items():
            path = f"{type_name}.{field_name}"
            if rule.kind is not Kind.PARENT and path not in CASES and path not in SOCKET_FIELDS:
                missing.append(f"{path}: {rule.kind} rule without a case in the matrix")
    assert not missing, "\n".join(missing)


# Order matters only for logout, which ends the role's session; it runs last.
ORDER = sorted(CASES, key=lambda path: path == "Mutation.logout")
EXPECTED = table.parse(table.OPERATIONS)
SHOWN = table.parse(table.VISIBLE)
REVEALED = table.parse(table.TRAIL)


def expected(rows: table.Table, row: str, who: str, target: str, targets: tuple[str, ...]) -> bool:
    """Whether the table lets `who` through on `target` (one of the row's `targets`)."""
    cell = rows[row][who]
    if cell == ("*",):
        return True
    prefixes = {t.split("_")[0] for t in targets if "_" in t}
    short = target.split("_", 1)[1] if len(prefixes) == 1 and "_" in target else target
    return short in cell


def test_the_table_speaks_of_every_case_role_and_target() -> None:
    assert set(EXPECTED) == set(CASES)
    problems = []
    for rows, row, targets in (
        *((EXPECTED, path, case.targets) for path, case in CASES.items()),
        *((SHOWN, name, targets) for name, targets in PLAIN_FIELDS),
        *(
            (REVEALED, f"{entity}.{name}", targets)
            for _, entity, name, targets in TRAIL_IDENTIFIERS
        ),
    ):
        cells = rows[row]
        if tuple(cells) != ROLES:
            problems.append(f"{row}: roles {tuple(cells)}")
        known = {t.split("_", 1)[-1] for t in targets} | set(targets) | {"*"}
        problems += [
            f"{row} / {who}: unknown target {t}"
            for who, c in cells.items()
            for t in c
            if t not in known
        ]
    assert set(SHOWN) == {name for name, _ in PLAIN_FIELDS}
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", ORDER)
async def test_the_matrix_matches_the_table(world: World, path: str) -> None:
    case = CASES[path]
    mismatches = []
    for who, target in itertools.product(ROLES, case.targets):
        expect = expected(EXPECTED, path, who, target, case.targets)
        observed = await case.run(world, who, target)
        if observed != expect:
            mismatches.append(
                f"{path} as {who} on {target}: expected {'allow' if expect else 'deny'}, got {'allow' if observed else 'deny'}"
            )
    assert not mismatches, "\n".join(mismatches)


def _selection(schema: GraphQLSchema, type_name: str) -> str:
    """Every plain field of a type, objects reduced to their __typename."""
    graphql_type = schema.type_map[type_name]
    assert isinstance(graphql_type, GraphQLObjectType)
    parts = []
    for name, rule in FIELD_RULES[type_name].items():
        if rule != PARENT:
            continue
        inner = get_named_type(graphql_type.fields[name].type)
        parts.append(f"{name} {{ __typename }}" if isinstance(inner, GraphQLObjectType) else name)
    return " ".join(parts)


PLAIN_FIELDS = (
    ("Study", STUDIES),
    ("Site", SITES),
    ("Participant", PEOPLE),
    ("DiaryEntry", ENTRIES),
    ("Device", DEVICES),
    ("ExportJob", EXPORTS),
    ("WebhookEndpoint", HOOKS),
)


@pytest.mark.parametrize(("type_name", "targets"), PLAIN_FIELDS)
async def test_plain_fields_follow_their_object(
    world: World, type_name: str, targets: tuple[str, ...]
) -> None:
    selection = _selection(_schema(), type_name)
    mismatches = []
    for who, target in itertools.product(ROLES, targets):
        body = await world.gql(
            who,
            f"query($id: ID!) {{ node(id: $id) {{ ... on {type_name} {{ {selection} }} }} }}",
            id=world.places[target].gid,
        )
        node = _data(body, "node")
        shown = expected(SHOWN, type_name, who, target, targets)
        complete = node is not None and all(
            node.get(n.split(" ")[0], "missing") != "missing"
            for n in selection.split(" ")
            if n and n[0].isalpha() and n != "__typename"
        )
        if complete != shown:
            mismatches.append(
                f"{type_name} as {who} on {target}: expected {'visible' if shown else 'hidden'}"
            )
        if not shown:
            assert node is None, f"{type_name} fields leaked to {who}"
    assert not mismatches, "\n".join(mismatches)


async def test_staff_user_nodes_are_for_admins_and_oneself(world: World) -> None:
    for who in ROLES:
        for owner in ("monitor", "coordinator"):
            body = await world.gql(
                who,
                "query($id: ID!) { node(id: $id) { ... on StaffUser { email name grants { role } } } }",
                id=world.staff[owner],
            )
            expected = who in ("admin", owner)
            assert (_data(body, "node") is not None) == expected, (who, owner)


async def test_data_managers_never_receive_direct_identifiers(world: World) -> None:
    """Requirement 32: run the identifying queries as the sponsor side: nothing comes back,
    neither screening numbers nor device serials, on the objects or in the trail."""
    known = [world.emails[world.places[p].gid] for p in PEOPLE] + ["Full Name", "Street 1"]
    known += [world.identifiers[world.places[t].gid] for t in PEOPLE + DEVICES]
    queries = {
        "Participant": (
            "query($id: ID!) { node(id: $id) { ... on Participant { subjectId screeningNumber contact { fullName email address } } } }",
            "query($id: ID!) { auditTrail(filter: {participantId: $id}) { edges { node { changes { field old { value } new { value } } } } } }",
        ),
        "Device": (
            "query($id: ID!) { node(id: $id) { ... on Device { model serial } } }",
            "query($e: String) { auditTrail(filter: {entityId: $e}) { edges { node { changes { field old { value } new { value } } } } } }",
        ),
    }
    for who in ("data_manager", "other_dm", "monitor", "admin"):
        for target in PEOPLE + DEVICES:
            gid = world.places[target].gid
            for query in queries["Device" if target in DEVICES else "Participant"]:
                body = await world.gql(who, query, id=gid, e=str(from_global_id(gid)[1]))
                leaked = [k for k in known if k.lower() in str(body).lower()]
                assert not leaked, (who, target, leaked)


# Identifiers in the trail, each with the GraphQL field whose rule it shares.
TRAIL_IDENTIFIERS = (
    ("Participant.screeningNumber", "Participant", "screeningNumber", PEOPLE),
    ("Participant.contact", "ParticipantContact", "email", PEOPLE),
    ("Device.serial", "Device", "serial", DEVICES),
)
TRAIL_OF = "query($t: String, $e: String) { auditTrail(filter: {entityType: $t, entityId: $e}) { edges { node { changes { field personal new { state value } } } } } }"


async def test_the_trail_applies_the_field_rules_of_the_objects(world: World) -> None:
    """Whoever may not read an identifier on its object does not read it in the trail."""
    mismatches = []
    for _, entity, name, targets in TRAIL_IDENTIFIERS:
        for who, target in itertools.product(ROLES, targets):
            place = world.places[target]
            value = (world.emails if name == "email" else world.identifiers)[place.gid]
            body = await world.gql(who, TRAIL_OF, t=entity, e=str(from_global_id(place.gid)[1]))
            edges = _data(body, "auditTrail", "edges") or []
            changes = [c for e in edges for c in e["node"]["changes"] if c["field"] == name]
            shown = any(c["new"] == {"state": "REVEALED", "value": value} for c in changes)
            if shown != expected(REVEALED, f"{entity}.{name}", who, target, targets):
                mismatches.append(f"{entity}.{name} as {who} on {target}: shown={shown}")
            leaked = value in str(changes) and not shown
            if leaked or not all(c["personal"] for c in changes):
                mismatches.append(f"{entity}.{name} as {who} on {target}: not kept personal")
    assert not mismatches, "\n".join(mismatches)


async def test_free_text_answers_stay_with_the_participant_and_their_site(world: World) -> None:
    """Free text can identify a person: the sponsor side and admins never receive it."""
    for who in ROLES:
        for target in ENTRIES:
            body = await world.gql(
                who,
                "query($id: ID!) { node(id: $id) { ... on DiaryEntry { answers freeText } } }",
                id=world.places[target].gid,
            )
            readable = expected(EXPECTED, "DiaryEntry.freeText", who, target, ENTRIES)
            assert ("Knee hurts" in str(body)) == readable, (who, target, body)
