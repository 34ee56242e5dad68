"""Adverse events over GraphQL: reported by the participant, confirmed by the site, corrected
with a reason code, signed, queried; the 24-hour clock of a serious event; who may do what."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.relay import from_global_id
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import SiteId, StudyId
from tests.clock import CLOCK, PINNED_AT
from tests.e2e.conftest import PASSWORD, create_user
from tests.e2e.trial import CREATE_SITE, LOGIN, AppTrial, build_app_trial

FIELDS = "id status reportedBy term onset end ongoing severity seriousness serious relationship actionTaken outcome lltCode ptCode ptName reportedAt recordedAt reportDueAt reportedToSponsorAt overdue reasonCode version"
RESULT = f"__typename ... on AdverseEventSuccess {{ adverseEvent {{ {FIELDS} }} }} ... on MutationError {{ code field }}"
REPORT = f"mutation($p: ID!, $d: String!, $o: String) {{ reportAdverseEvent(input: {{participantId: $p, description: $d, onset: $o}}) {{ {RESULT} }} }}"
RECORD = f"mutation($p: ID!, $e: AdverseEventInput!) {{ recordAdverseEvent(input: {{participantId: $p, event: $e}}) {{ {RESULT} }} }}"
CONFIRM = f"mutation($a: ID!, $v: Int!, $e: AdverseEventInput!) {{ confirmAdverseEvent(input: {{adverseEventId: $a, version: $v, event: $e}}) {{ {RESULT} }} }}"
CORRECT = f"mutation($a: ID!, $v: Int!, $e: AdverseEventInput!, $c: ReasonCode!, $r: String) {{ correctAdverseEvent(input: {{adverseEventId: $a, version: $v, event: $e, reasonCode: $c, reason: $r}}) {{ {RESULT} }} }}"
TO_SPONSOR = f"mutation($a: ID!) {{ reportAdverseEventToSponsor(input: {{adverseEventId: $a}}) {{ {RESULT} }} }}"
NODE = f"query($a: ID!) {{ node(id: $a) {{ ... on AdverseEvent {{ {FIELDS} }} }} }}"
WORDS = "query($a: ID!) { node(id: $a) { ... on AdverseEvent { description } } }"
LIST = "query($p: ID!) { adverseEvents(participantId: $p) { id term } }"
SIGN = "mutation($r: ID!, $p: String!) { signRecord(input: {recordId: $r, meaning: RESPONSIBILITY, password: $p}) { __typename ... on MutationError { code field } } }"
SIGNATURES = "query($a: ID!) { node(id: $a) { ... on AdverseEvent { signatures { meaning valid recordVersion } } } }"
RAISE = 'mutation($r: ID!) { raiseQuery(input: {recordId: $r, field: "severity", question: "Grade 3 or severe?"}) { __typename ... on DataQuerySuccess { query { recordType field status } } ... on MutationError { code } } }'
TRAIL = "query($id: String!) { auditTrail(filter: {entityId: $id}) { edges { node { action reason { state value } changes { field new { value } } } } } }"

HEADACHE = {
    "term": "Headache",
    "onset": "2026-06",
    "ongoing": True,
    "severity": "MODERATE",
    "relationship": "POSSIBLY_RELATED",
    "actionTaken": "DOSE_NOT_CHANGED",
    "outcome": "NOT_RECOVERED",
    "lltCode": "10019211",
    "lltName": "Headache",
    "ptCode": "10019211",
    "ptName": "Headache",
}


@pytest.fixture(scope="module")
async def trial(app: Starlette, settings: Settings) -> AsyncIterator[AppTrial]:
    """One trial for the module; its staff accounts are shared too, so the installation's
    user list stays short."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        yield await build_app_trial(http, settings)


_TOKENS: dict[tuple[str, Role, bool], str] = {}


async def _staff(
    trial: AppTrial, settings: Settings, role: Role, *, other_site: bool = False
) -> str:
    """A staff member signed in at the pinned time: valid again in every test (each pins the
    clock back), made once per module."""
    key = (trial.study, role, other_site)
    if key not in _TOKENS:
        _TOKENS[key] = await _new_staff(trial, settings, role, other_site=other_site)
    return _TOKENS[key]


async def _new_staff(
    trial: AppTrial, settings: Settings, role: Role, *, other_site: bool = False
) -> str:
    study = StudyId(from_global_id(trial.study, "Study")[1])
    site = SiteId(from_global_id(trial.site, "Site")[1])
    if role is Role.DATA_MANAGER:
        grant = Grant(role, study)
    elif other_site:
        made = await trial.gql(trial.admin, CREATE_SITE, s=trial.study, c="MUC")
        other = from_global_id(made["data"]["createSite"]["site"]["id"], "Site")[1]
        grant = Grant(role, study, SiteId(other))
    else:
        grant = Grant(role, study, site)
    email = await create_user(settings, (grant,))
    body = await trial.gql(None, LOGIN, e=email, p=PASSWORD)
    token: str = body["data"]["login"]["accessToken"]
    return token


def _event(body: dict[str, Any], name: str) -> dict[str, Any]:
    result: dict[str, Any] = body["data"][name]
    assert result["__typename"] == "AdverseEventSuccess", body
    event: dict[str, Any] = result["adverseEvent"]
    return event


async def test_participant_reports_site_confirms_corrects_signs_and_a_monitor_queries(
    trial: AppTrial, settings: Settings
) -> None:
    reported = _event(
        await trial.gql(
            trial.app, REPORT, p=trial.participant, d="Bad headache after the pill", o="2026-06-09"
        ),
        "reportAdverseEvent",
    )
    assert reported["status"] == "REPORTED"
    assert reported["reportedBy"] == "PARTICIPANT"
    assert reported["onset"] == "2026-06-09"
    assert reported["ongoing"] is True
    assert reported["serious"] is False
    assert reported["reportDueAt"] is None
    words = await trial.gql(trial.coordinator, WORDS, a=reported["id"])
    assert words["data"]["node"]["description"] == "Bad headache after the pill"

    confirmed = _event(
        await trial.gql(trial.coordinator, CONFIRM, a=reported["id"], v=1, e=HEADACHE),
        "confirmAdverseEvent",
    )
    assert confirmed["status"] == "RECORDED"
    assert confirmed["version"] == 2
    assert confirmed["lltCode"] == "10019211"
    assert confirmed["onset"] == "2026-06"

    again = await trial.gql(trial.coordinator, CONFIRM, a=reported["id"], v=2, e=HEADACHE)
    assert again["data"]["confirmAdverseEvent"]["code"] == "INVALID_TRANSITION"
    stale = await trial.gql(
        trial.coordinator, CORRECT, a=reported["id"], v=1, e=HEADACHE, c="OTHER", r=None
    )
    assert stale["data"]["correctAdverseEvent"]["code"] == "STALE_VERSION"

    corrected = _event(
        await trial.gql(
            trial.coordinator,
            CORRECT,
            a=reported["id"],
            v=2,
            e={**HEADACHE, "severity": "GRADE_2"},
            c="TRANSCRIPTION_ERROR",
            r="Grade from the CRF",
        ),
        "correctAdverseEvent",
    )
    assert corrected["severity"] == "GRADE_2"
    assert corrected["reasonCode"] == "TRANSCRIPTION_ERROR"
    assert corrected["version"] == 3

    investigator = await _staff(trial, settings, Role.INVESTIGATOR)
    signed = await trial.gql(investigator, SIGN, r=reported["id"], p=PASSWORD)
    assert signed["data"]["signRecord"]["__typename"] == "SignRecordSuccess", signed
    shown = await trial.gql(investigator, SIGNATURES, a=reported["id"])
    assert shown["data"]["node"]["signatures"] == [
        {"meaning": "RESPONSIBILITY", "valid": True, "recordVersion": 3}
    ]

    monitor = await _staff(trial, settings, Role.MONITOR)
    raised = await trial.gql(monitor, RAISE, r=reported["id"])
    assert raised["data"]["raiseQuery"]["query"] == {
        "recordType": "AdverseEvent",
        "field": "severity",
        "status": "OPEN",
    }

    # A later correction invalidates the signature.
    await trial.gql(
        trial.coordinator, CORRECT, a=reported["id"], v=3, e=HEADACHE, c="OTHER", r=None
    )
    shown = await trial.gql(investigator, SIGNATURES, a=reported["id"])
    assert shown["data"]["node"]["signatures"][0]["valid"] is False

    # The trail: every version, the correction's code for monitors, its free text site-only.
    trail = await trial.gql(monitor, TRAIL, id=str(from_global_id(reported["id"])[1]))
    assert "data" in trail, trail
    events = [e["node"] for e in trail["data"]["auditTrail"]["edges"]]
    assert [e["action"] for e in events] == [
        "created",
        "confirmed",
        "corrected",
        "signed",
        "corrected",
    ]
    correction = events[2]
    codes = [c["new"]["value"] for c in correction["changes"] if c["field"] == "reasonCode"]
    assert codes == ["TRANSCRIPTION_ERROR"]
    assert correction["reason"]["state"] == "WITHHELD"  # sealed free text: site-only
    site_trail = await trial.gql(
        trial.coordinator, TRAIL, id=str(from_global_id(reported["id"])[1])
    )
    site_reason = site_trail["data"]["auditTrail"]["edges"][2]["node"]["reason"]
    assert site_reason["value"] == "Grade from the CRF"


async def test_a_serious_event_starts_a_24_hour_clock_seen_by_site_and_sponsor(
    trial: AppTrial, settings: Settings
) -> None:
    serious = {**HEADACHE, "seriousness": ["HOSPITALISATION"], "severity": "SEVERE"}
    made = _event(
        await trial.gql(trial.coordinator, RECORD, p=trial.participant, e=serious),
        "recordAdverseEvent",
    )
    assert made["serious"] is True
    assert made["seriousness"] == ["HOSPITALISATION"]
    due = datetime.fromisoformat(made["reportDueAt"])
    assert due == PINNED_AT + timedelta(hours=24)
    assert made["overdue"] is False

    CLOCK.advance(hours=24, minutes=1)  # sessions from before have expired: sign in anew
    site = await _new_staff(trial, settings, Role.COORDINATOR)
    monitor = await _new_staff(trial, settings, Role.MONITOR)
    manager = await _new_staff(trial, settings, Role.DATA_MANAGER)
    for token in (site, monitor, manager):
        seen = await trial.gql(token, NODE, a=made["id"])
        assert seen["data"]["node"]["overdue"] is True, seen
        assert datetime.fromisoformat(seen["data"]["node"]["reportDueAt"]) == due

    # A correction does not restart the clock.
    corrected = _event(
        await trial.gql(
            site,
            CORRECT,
            a=made["id"],
            v=1,
            e={**serious, "seriousness": ["HOSPITALISATION", "LIFE_THREATENING"]},
            c="PARTICIPANT_CLARIFICATION",
            r=None,
        ),
        "correctAdverseEvent",
    )
    assert datetime.fromisoformat(corrected["reportDueAt"]) == due

    sent = _event(
        await trial.gql(site, TO_SPONSOR, a=made["id"]),
        "reportAdverseEventToSponsor",
    )
    assert datetime.fromisoformat(sent["reportedToSponsorAt"]) == CLOCK.now()
    assert sent["overdue"] is False
    twice = await trial.gql(site, TO_SPONSOR, a=made["id"])
    assert twice["data"]["reportAdverseEventToSponsor"]["code"] == "INVALID_TRANSITION"

    trail = await trial.gql(monitor, TRAIL, id=str(from_global_id(made["id"])[1]))
    actions = [e["node"]["action"] for e in trail["data"]["auditTrail"]["edges"]]
    assert actions.count("serious") == 1
    assert actions == ["created", "serious", "corrected", "reported_to_sponsor"]


async def test_bad_input_is_refused_with_a_field_and_changes_nothing(trial: AppTrial) -> None:
    before = await trial.gql(trial.coordinator, LIST, p=trial.participant)
    for event, field in (
        ({**HEADACHE, "onset": "2026-13"}, "onset"),
        ({**HEADACHE, "onset": "June"}, "onset"),
        ({**HEADACHE, "ongoing": True, "end": "2026-06-09"}, "end"),
        ({**HEADACHE, "ongoing": False, "onset": "2026-06-09", "end": "2026-06-01"}, "end"),
        ({**HEADACHE, "lltCode": "HEAD"}, "lltCode"),
        ({**HEADACHE, "term": "  "}, "term"),
    ):
        refused = await trial.gql(trial.coordinator, RECORD, p=trial.participant, e=event)
        assert refused["data"]["recordAdverseEvent"] == {
            "__typename": "MutationError",
            "code": "VALIDATION_FAILED",
            "field": field,
        }, event
    listed = await trial.gql(trial.coordinator, LIST, p=trial.participant)
    assert listed["data"]["adverseEvents"] == before["data"]["adverseEvents"]


async def test_who_may_do_what(trial: AppTrial, settings: Settings) -> None:
    """Participants report only for themselves; site staff record and correct; monitors and
    data managers read and query but never write or read the participant's words; staff of
    another site see nothing."""
    monitor = await _staff(trial, settings, Role.MONITOR)
    manager = await _staff(trial, settings, Role.DATA_MANAGER)
    elsewhere = await _staff(trial, settings, Role.COORDINATOR, other_site=True)
    admin = trial.admin

    for token in (monitor, manager, admin, elsewhere):
        refused = await trial.gql(token, RECORD, p=trial.participant, e=HEADACHE)
        assert refused["data"]["recordAdverseEvent"]["__typename"] == "MutationError"
        assert refused["data"]["recordAdverseEvent"]["code"] in {"FORBIDDEN", "NOT_FOUND"}
    staff_report = await trial.gql(trial.coordinator, REPORT, p=trial.participant, d="x")
    assert staff_report["data"]["reportAdverseEvent"]["code"] == "FORBIDDEN"

    made = _event(
        await trial.gql(trial.app, REPORT, p=trial.participant, d="Dizzy", o=None),
        "reportAdverseEvent",
    )
    assert (await trial.gql(trial.app, WORDS, a=made["id"]))["data"]["node"]["description"] == (
        "Dizzy"
    )
    app_confirm = await trial.gql(trial.app, CONFIRM, a=made["id"], v=1, e=HEADACHE)
    assert app_confirm["data"]["confirmAdverseEvent"]["code"] == "FORBIDDEN"
    for token in (monitor, manager):
        seen = await trial.gql(token, NODE, a=made["id"])
        assert seen["data"]["node"]["term"] == ""  # the words are sealed: no term until the site's
        words = await trial.gql(token, WORDS, a=made["id"])
        assert words["data"]["node"]["description"] is None
        assert words["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        write = await trial.gql(token, CONFIRM, a=made["id"], v=1, e=HEADACHE)
        assert write["data"]["confirmAdverseEvent"]["code"] == "FORBIDDEN"
        sponsor = await trial.gql(token, TO_SPONSOR, a=made["id"])
        assert sponsor["data"]["reportAdverseEventToSponsor"]["code"] == "FORBIDDEN"
    for token in (elsewhere, admin):
        hidden = await trial.gql(token, NODE, a=made["id"])
        if token is elsewhere:
            assert hidden["data"]["node"] is None
        write = await trial.gql(token, CONFIRM, a=made["id"], v=1, e=HEADACHE)
        assert write["data"]["confirmAdverseEvent"]["code"] in {"NOT_FOUND", "FORBIDDEN"}
    nobody = await trial.gql(None, LIST, p=trial.participant)
    assert nobody["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    unchanged = await trial.gql(trial.coordinator, NODE, a=made["id"])
    assert unchanged["data"]["node"]["version"] == 1
