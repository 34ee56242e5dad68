"""Alerts and the site contact over GraphQL: a coordinator configures the study's rules, a
serious adverse event raises its alert at once, the site lists and acknowledges it; the
participant's app shows the study, the site and how to reach it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.relay import from_global_id
from api.settings import Settings
from tests.e2e.trial import AppTrial, build_app_trial

RULE_RESULT = "__typename ... on AlertRuleSuccess { rule { id kind enabled email missed readingKind low high waitHours version } } ... on MutationError { code field }"
SET_RULE = f"mutation($i: SetAlertRuleInput!) {{ setAlertRule(input: $i) {{ {RULE_RESULT} }} }}"
RULES = "query($s: ID!) { node(id: $s) { ... on Study { alertRules { kind readingKind high } } } }"
ALERTS = "query($s: ID!, $st: AlertStatus) { alerts(siteId: $s, status: $st) { id kind status raisedAt participantId recordId note acknowledgedBy version } }"
SITE_ALERTS = (
    "query($s: ID!) { node(id: $s) { ... on Site { alerts(status: OPEN) { id kind } contact } } }"
)
ACK = "mutation($a: ID!, $n: String!) { acknowledgeAlert(input: {alertId: $a, note: $n}) { __typename ... on AlertSuccess { alert { status note acknowledgedAt version } } ... on MutationError { code field } } }"
RECORD = "mutation($p: ID!, $e: AdverseEventInput!) { recordAdverseEvent(input: {participantId: $p, event: $e}) { __typename ... on AdverseEventSuccess { adverseEvent { id } } } }"
CONTACT = "mutation($s: ID!, $c: String) { setSiteContact(input: {siteId: $s, contact: $c}) { __typename ... on SiteSuccess { site { contact } } ... on MutationError { code field } } }"
MINE = "{ viewer { participant { studyTitle siteName siteContact } } }"
TRAIL = "query($id: String!) { auditTrail(filter: {entityId: $id}) { edges { node { action changes { field personal } } } } }"


@pytest.fixture(scope="module")
async def trial(app: Starlette, settings: Settings) -> AsyncIterator[AppTrial]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        yield await build_app_trial(http, settings)


def _rule(body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = body["data"]["setAlertRule"]
    assert result["__typename"] == "AlertRuleSuccess", body
    rule: dict[str, Any] = result["rule"]
    return rule


async def test_the_site_contact_reaches_the_participants_app(trial: AppTrial) -> None:
    before = await trial.gql(trial.app, MINE)
    mine = before["data"]["viewer"]["participant"]
    assert mine["siteContact"] is None
    assert mine["studyTitle"]
    assert mine["siteName"]
    listed = await trial.gql(trial.app, "{ studies { id title } }")
    assert listed["data"]["studies"] == [{"id": trial.study, "title": mine["studyTitle"]}]
    design = await trial.gql(trial.app, "{ studies { arms { id } } }")
    assert design["errors"][0]["extensions"]["code"] in {"FORBIDDEN", "NOT_FOUND"}  # staff's
    done = await trial.gql(
        trial.coordinator, CONTACT, s=trial.site, c="  +49 30 1234 567, weekdays 8-16 "
    )
    assert done["data"]["setSiteContact"] == {
        "__typename": "SiteSuccess",
        "site": {"contact": "+49 30 1234 567, weekdays 8-16"},
    }
    after = await trial.gql(trial.app, MINE)
    assert after["data"]["viewer"]["participant"]["siteContact"] == "+49 30 1234 567, weekdays 8-16"
    too_long = await trial.gql(trial.coordinator, CONTACT, s=trial.site, c="x" * 301)
    assert too_long["data"]["setSiteContact"] == {
        "__typename": "MutationError",
        "code": "VALIDATION_FAILED",
        "field": "contact",
    }
    refused = await trial.gql(trial.app, CONTACT, s=trial.site, c="call me")
    assert refused["data"]["setSiteContact"]["code"] in {"FORBIDDEN", "NOT_FOUND"}
    kept = await trial.gql(trial.coordinator, SITE_ALERTS, s=trial.site)
    assert kept["data"]["node"]["contact"] == "+49 30 1234 567, weekdays 8-16"


async def test_rules_are_configured_and_checked(trial: AppTrial) -> None:
    reading = _rule(
        await trial.gql(
            trial.coordinator,
            SET_RULE,
            i={
                "studyId": trial.study,
                "kind": "READING_OUT_OF_RANGE",
                "readingKind": "heart_rate",
                "high": "150",
                "email": True,
            },
        )
    )
    assert (reading["readingKind"], reading["high"], reading["email"], reading["version"]) == (
        "HEART_RATE",
        "150",
        True,
        1,
    )
    changed = _rule(
        await trial.gql(
            trial.coordinator,
            SET_RULE,
            i={
                "studyId": trial.study,
                "ruleId": reading["id"],
                "version": 1,
                "kind": "READING_OUT_OF_RANGE",
                "readingKind": "HEART_RATE",
                "low": "40",
                "high": "160",
            },
        )
    )
    assert (changed["low"], changed["high"], changed["version"]) == ("40", "160", 2)
    stale = await trial.gql(
        trial.coordinator,
        SET_RULE,
        i={"studyId": trial.study, "ruleId": reading["id"], "version": 1, "kind": "VISIT_OVERDUE"},
    )
    assert stale["data"]["setAlertRule"]["code"] == "STALE_VERSION"
    bad = await trial.gql(
        trial.coordinator, SET_RULE, i={"studyId": trial.study, "kind": "MISSED_DIARIES"}
    )
    assert bad["data"]["setAlertRule"] == {
        "__typename": "MutationError",
        "code": "VALIDATION_FAILED",
        "field": "missed",
    }
    wrong_id = await trial.gql(
        trial.coordinator, SET_RULE, i={"studyId": trial.site, "kind": "VISIT_OVERDUE"}
    )
    assert wrong_id["data"]["setAlertRule"]["code"] == "INVALID_ID"
    listed = await trial.gql(trial.coordinator, RULES, s=trial.study)
    assert {"kind": "READING_OUT_OF_RANGE", "readingKind": "HEART_RATE", "high": "160"} in listed[
        "data"
    ]["node"]["alertRules"]
    app = await trial.gql(trial.app, SET_RULE, i={"studyId": trial.study, "kind": "VISIT_OVERDUE"})
    assert app["data"]["setAlertRule"]["code"] in {"FORBIDDEN", "NOT_FOUND"}


async def test_a_serious_event_alerts_the_site_which_acknowledges_it_once(trial: AppTrial) -> None:
    _rule(
        await trial.gql(
            trial.coordinator, SET_RULE, i={"studyId": trial.study, "kind": "SERIOUS_ADVERSE_EVENT"}
        )
    )
    event = {"term": "Chest pain", "severity": "SEVERE", "seriousness": ["HOSPITALISATION"]}
    made = await trial.gql(trial.coordinator, RECORD, p=trial.participant, e=event)
    event_id = made["data"]["recordAdverseEvent"]["adverseEvent"]["id"]
    opened = await trial.gql(trial.coordinator, SITE_ALERTS, s=trial.site)
    assert [a["kind"] for a in opened["data"]["node"]["alerts"]] == ["SERIOUS_ADVERSE_EVENT"]
    (alert,) = (await trial.gql(trial.coordinator, ALERTS, s=trial.site, st="OPEN"))["data"][
        "alerts"
    ]
    assert alert["participantId"] == trial.participant
    assert alert["status"] == "OPEN"
    assert alert["recordId"] == str(from_global_id(event_id, "AdverseEvent")[1])

    empty = await trial.gql(trial.coordinator, ACK, a=alert["id"], n="   ")
    assert empty["data"]["acknowledgeAlert"] == {
        "__typename": "MutationError",
        "code": "VALIDATION_FAILED",
        "field": "note",
    }
    done = await trial.gql(
        trial.coordinator, ACK, a=alert["id"], n="Called her; admitted to hospital"
    )
    assert done["data"]["acknowledgeAlert"]["alert"]["status"] == "ACKNOWLEDGED"
    again = await trial.gql(trial.coordinator, ACK, a=alert["id"], n="again")
    assert again["data"]["acknowledgeAlert"]["code"] == "INVALID_TRANSITION"
    assert (await trial.gql(trial.coordinator, ALERTS, s=trial.site, st="OPEN"))["data"][
        "alerts"
    ] == []
    (kept,) = (await trial.gql(trial.coordinator, ALERTS, s=trial.site, st="ACKNOWLEDGED"))["data"][
        "alerts"
    ]
    assert kept["note"] == "Called her; admitted to hospital"
    assert kept["acknowledgedBy"]

    raw = alert["id"]
    trail = await trial.gql(trial.coordinator, TRAIL, id=str(from_global_id(raw, "Alert")[1]))
    actions = [e["node"]["action"] for e in trail["data"]["auditTrail"]["edges"]]
    assert actions == ["created", "acknowledged"]
    notes = [
        c
        for e in trail["data"]["auditTrail"]["edges"]
        for c in e["node"]["changes"]
        if c["field"] == "note"
    ]
    assert [c["personal"] for c in notes] == [True, True]  # created (empty), acknowledged

    bad_id = await trial.gql(trial.coordinator, ACK, a=trial.site, n="x")
    assert bad_id["data"]["acknowledgeAlert"]["code"] == "INVALID_ID"
    app = await trial.gql(trial.app, ALERTS, s=trial.site)
    assert app["data"] is None or app["data"]["alerts"] is None
