"""A study's retention, closure and purge over GraphQL: administrators only, time from the
pinned clock."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import httpx

from api.relay import from_global_id
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import SiteId, StudyId
from tests.clock import PinnedClock
from tests.e2e.conftest import Gql, create_user, login
from tests.e2e.trial import (
    CREATE_SITE,
    CREATE_STUDY,
    REGISTER,
    SUBMIT_DIARY,
    SUBMIT_READINGS,
    build_app_trial,
    diary_entry,
    heart_rate,
    open_occurrence,
)

STUDY = "query($s: ID!) { study(id: $s) { status closedAt purgedAt retention { years configuredYears minimumYears runsFrom endsAt } } }"
_ERROR = "... on MutationError { code message field }"
RETAIN = f"mutation($s: ID!, $y: Int!, $r: String!) {{ setStudyRetention(input: {{studyId: $s, years: $y, reason: $r}}) {{ __typename ... on StudySuccess {{ study {{ retention {{ years configuredYears }} }} }} {_ERROR} }} }}"
CLOSE = f"mutation($s: ID!, $r: String!) {{ closeStudy(input: {{studyId: $s, reason: $r}}) {{ __typename ... on StudySuccess {{ study {{ status closedAt retention {{ endsAt }} }} }} {_ERROR} }} }}"
PURGE = f'mutation($s: ID!) {{ purgeStudy(input: {{studyId: $s, reason: "Retention over"}}) {{ __typename ... on PurgeStudySuccess {{ participants shredded study {{ status purgedAt }} }} {_ERROR} }} }}'
WITHDRAW = 'mutation($p: ID!) { changeParticipantStatus(input: {participantId: $p, status: WITHDRAWN, reason: "Moved away"}) { __typename ... on MutationError { code } } }'
PERSON = "query($p: ID!) { node(id: $p) { ... on Participant { subjectId erasedAt } } }"
TRAIL = 'query($e: String) { auditTrail(filter: {entityType: "Study", entityId: $e}) { edges { node { action reason { value } } } } }'


def _result(body: dict[str, Any], name: str) -> dict[str, Any]:
    result: dict[str, Any] = body["data"][name]
    return result


async def _world(gql: Gql, settings: Settings, admin: str) -> dict[str, str]:
    made = await gql(CREATE_STUDY, {"c": f"RT-{uuid.uuid4().hex[:6]}"}, admin)
    study = _result(made, "createStudy")["study"]["id"]
    site = _result(await gql(CREATE_SITE, {"s": study, "c": "BER"}, admin), "createSite")
    registered = await gql(REGISTER, {"s": site["site"]["id"], "n": "SCR-1"}, admin)
    person = _result(registered, "registerParticipant")["participant"]["id"]
    study_id, site_id = (
        StudyId(from_global_id(study)[1]),
        SiteId(from_global_id(site["site"]["id"])[1]),
    )
    emails = {
        "coordinator": await create_user(settings, (Grant(Role.COORDINATOR, study_id, site_id),)),
        "data_manager": await create_user(settings, (Grant(Role.DATA_MANAGER, study_id),)),
        "monitor": await create_user(settings, (Grant(Role.MONITOR, study_id, site_id),)),
    }
    tokens = {name: await login(gql, email) for name, email in emails.items()}
    return {"study": study, "site": site["site"]["id"], "person": person, **tokens}


async def test_only_admins_set_retention_close_and_purge(
    gql: Gql, settings: Settings, admin_token: str
) -> None:
    world = await _world(gql, settings, admin_token)
    for who in ("coordinator", "data_manager", "monitor", None):
        token = world[who] if who else None
        expected = "FORBIDDEN" if who else "UNAUTHENTICATED"
        for query, name, variables in (
            (RETAIN, "setStudyRetention", {"y": 30, "r": "SOP"}),
            (CLOSE, "closeStudy", {"r": "Ended"}),
            (PURGE, "purgeStudy", {}),
        ):
            body = await gql(query, {"s": world["study"], **variables}, token)
            assert _result(body, name)["code"] == expected, (who, name, body)
    shown = (await gql(STUDY, {"s": world["study"]}, world["data_manager"]))["data"]["study"]
    assert (shown["status"], shown["retention"]["configuredYears"]) == ("OPEN", None)


async def test_retention_closure_and_purge_by_the_pinned_clock(
    gql: Gql, settings: Settings, admin_token: str, clock: PinnedClock
) -> None:
    world = await _world(gql, settings, admin_token)
    study = (await gql(STUDY, {"s": world["study"]}, admin_token))["data"]["study"]
    assert study == {
        "status": "OPEN",
        "closedAt": None,
        "purgedAt": None,
        "retention": {
            "years": 25,
            "configuredYears": None,
            "minimumYears": 25,
            "runsFrom": "STUDY_CLOSURE",
            "endsAt": None,
        },
    }
    short = await gql(RETAIN, {"s": world["study"], "y": 10, "r": "Too short"}, admin_token)
    assert _result(short, "setStudyRetention")["code"] == "RETENTION_BELOW_MINIMUM"
    blank = await gql(RETAIN, {"s": world["study"], "y": 30, "r": " "}, admin_token)
    assert _result(blank, "setStudyRetention")["code"] == "REASON_REQUIRED"
    kept = await gql(RETAIN, {"s": world["study"], "y": 30, "r": "Sponsor SOP"}, admin_token)
    assert _result(kept, "setStudyRetention")["study"]["retention"] == {
        "years": 30,
        "configuredYears": 30,
    }

    early = await gql(PURGE, {"s": world["study"]}, admin_token)
    assert _result(early, "purgeStudy")["code"] == "STUDY_NOT_CLOSED"
    active = await gql(CLOSE, {"s": world["study"], "r": "Ended"}, admin_token)
    assert _result(active, "closeStudy")["code"] == "STUDY_STILL_ACTIVE"
    withdrawn = await gql(WITHDRAW, {"p": world["person"]}, world["coordinator"])
    assert _result(withdrawn, "changeParticipantStatus")["__typename"] != "MutationError"
    closed = _result(
        await gql(CLOSE, {"s": world["study"], "r": "Ended"}, admin_token), "closeStudy"
    )
    assert closed["study"]["status"] == "CLOSED"
    assert datetime.fromisoformat(closed["study"]["closedAt"]) == clock.now()
    ends = datetime.fromisoformat(closed["study"]["retention"]["endsAt"])
    assert ends == clock.now().replace(year=clock.now().year + 30)

    late = await gql(REGISTER, {"s": world["site"], "n": "SCR-2"}, world["coordinator"])
    assert _result(late, "registerParticipant")["code"] == "STUDY_CLOSED"
    clock.advance(days=(ends - clock.now()).days - 1)
    admin = await login(gql, await create_user(settings, (Grant(Role.ADMIN),)))  # tokens expired
    refused = _result(await gql(PURGE, {"s": world["study"]}, admin), "purgeStudy")
    assert refused["code"] == "RETENTION_NOT_ELAPSED"
    assert f"{ends:%Y-%m-%d %H:%M} UTC" in refused["message"]

    clock.advance(days=1)
    admin = await login(gql, await create_user(settings, (Grant(Role.ADMIN),)))
    done = _result(await gql(PURGE, {"s": world["study"]}, admin), "purgeStudy")
    assert (done["participants"], done["shredded"], done["study"]["status"]) == (1, 1, "PURGED")
    person = (await gql(PERSON, {"p": world["person"]}, admin))["data"]["node"]
    assert person["erasedAt"] is not None
    again = _result(await gql(PURGE, {"s": world["study"]}, admin), "purgeStudy")
    assert (again["shredded"], again["study"]["purgedAt"]) == (0, done["study"]["purgedAt"])
    entity = str(from_global_id(world["study"])[1])
    trail = (await gql(TRAIL, {"e": entity}, admin))["data"]["auditTrail"]["edges"]
    logged = [(e["node"]["action"], (e["node"]["reason"] or {}).get("value")) for e in trail]
    assert logged == [
        ("created", None),
        ("retention_set", "Sponsor SOP"),
        ("closed", "Ended"),
        ("purged", "Retention over"),
    ]


async def test_a_closed_study_refuses_what_the_app_sends_late(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """Data collected before the closure but sent after it is refused as a whole, in every
    way the app sends it, and nothing is stored."""
    trial = await build_app_trial(client, settings)
    due = await open_occurrence(lambda q, **v: trial.gql(trial.app, q, **v), trial.participant)
    entry, reading = diary_entry(due), heart_rate(trial.device)  # taken now, while open
    completed = await trial.gql(
        trial.coordinator,
        'mutation($p: ID!) { changeParticipantStatus(input: {participantId: $p, status: COMPLETED, reason: "Last visit done"}) { __typename } }',
        p=trial.participant,
    )
    assert completed["data"]["changeParticipantStatus"]["__typename"] != "MutationError"
    closed = await trial.gql(trial.admin, CLOSE, s=trial.study, r="Ended")
    assert closed["data"]["closeStudy"]["__typename"] == "StudySuccess", closed
    sent = await trial.gql(trial.app, SUBMIT_DIARY, e=[entry])
    assert sent["data"]["submitDiaryEntries"]["code"] == "STUDY_CLOSED"
    readings = await trial.gql(trial.app, SUBMIT_READINGS, i=[reading])
    assert readings["data"]["submitReadings"]["code"] == "STUDY_CLOSED"
    upload = await client.post(
        "/ingest/readings",
        content=json.dumps(reading).encode() + b"\n",
        headers={"content-type": "application/x-ndjson", "authorization": f"Bearer {trial.app}"},
    )
    assert upload.status_code == 400
    assert upload.json()["errors"][0]["extensions"]["code"] == "STUDY_CLOSED"
    stored = await trial.gql(
        trial.coordinator,
        "query($p: ID!) { node(id: $p) { ... on Participant { diaryEntries { edges { node { id } } } readings { edges { node { id } } } } } }",
        p=trial.participant,
    )
    assert stored["data"]["node"]["diaryEntries"]["edges"] == []
    assert stored["data"]["node"]["readings"]["edges"] == []
