"""A study gives a diary schedule its own reminder policy over GraphQL; bad policies are
refused with the field named and nothing stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.settings import Settings
from tests.e2e.trial import AppTrial, build_app_trial

POLICY = "custom rules { code when minutes morning } quietStart quietEnd dailyCap"
CREATE = (
    "mutation($s: ID!, $r: ReminderPolicyInput) { createDiarySchedule(input: {studyId: $s, "
    'questionnaireCode: "PAIN", times: ["19:00"], windowMinutes: 60, reminders: $r}) { '
    f"__typename ... on CreateDiaryScheduleSuccess {{ schedule {{ id reminders {{ {POLICY} }} }} }}"
    " ... on MutationError { code field } } }"
)
LISTED = f"query($s: ID!) {{ node(id: $s) {{ ... on Study {{ diarySchedules {{ id reminders {{ {POLICY} }} }} }} }} }}"


@pytest.fixture
async def trial(app: Starlette, settings: Settings) -> AsyncIterator[AppTrial]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        yield await build_app_trial(http, settings)


async def _schedules(trial: AppTrial) -> list[dict[str, Any]]:
    body = await trial.gql(trial.coordinator, LISTED, s=trial.study)
    found: list[dict[str, Any]] = body["data"]["node"]["diarySchedules"]
    return found


async def test_a_schedule_keeps_its_own_policy_and_the_others_show_the_default(
    trial: AppTrial,
) -> None:
    given = {
        "rules": [
            {"code": "last_call", "when": "BEFORE_CLOSE", "minutes": 15},
            {"code": "tomorrow", "when": "NEXT_MORNING", "morning": "07:45"},
        ],
        "quietStart": "22:00",
        "quietEnd": "06:30",
        "dailyCap": 2,
    }
    made = (await trial.gql(trial.coordinator, CREATE, s=trial.study, r=given))["data"]
    schedule = made["createDiarySchedule"]["schedule"]
    assert schedule["reminders"] == {
        "custom": True,
        "rules": [
            {"code": "last_call", "when": "BEFORE_CLOSE", "minutes": 15, "morning": "08:00"},
            {"code": "tomorrow", "when": "NEXT_MORNING", "minutes": 0, "morning": "07:45"},
        ],
        "quietStart": "22:00",
        "quietEnd": "06:30",
        "dailyCap": 2,
    }
    listed = {s["id"]: s["reminders"] for s in await _schedules(trial)}
    assert listed[schedule["id"]] == schedule["reminders"]
    defaults = [r for i, r in listed.items() if i != schedule["id"]]
    assert defaults
    assert all(not r["custom"] for r in defaults)
    assert [r["code"] for r in defaults[0]["rules"]] == ["due", "closing", "missed"]
    assert (defaults[0]["quietStart"], defaults[0]["quietEnd"]) == ("21:00", "07:30")


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"rules": [{"code": "x", "when": "BEFORE_CLOSE"}]}, "minutes"),
        ({"rules": [{"code": "x", "when": "AT_DUE", "minutes": 5}]}, "minutes"),
        ({"rules": [{"code": "x y", "when": "AT_DUE"}]}, "code"),
        ({"rules": [{"code": "x", "when": "NEXT_MORNING", "morning": "7am"}]}, "morning"),
        ({"rules": [], "quietStart": "22:00"}, "quietStart"),
        ({"rules": [], "quietStart": "22:00", "quietEnd": "22:00"}, "quietEnd"),
        ({"rules": [], "quietStart": "22:00", "quietEnd": "25:00"}, "quietEnd"),
        ({"rules": [], "dailyCap": 0}, "dailyCap"),
        ({"rules": [{"code": "a", "when": "AT_DUE"}, {"code": "a", "when": "AT_DUE"}]}, "rules"),
    ],
)
async def test_a_policy_that_cannot_work_is_refused_and_nothing_is_stored(
    trial: AppTrial, policy: dict[str, Any], field: str
) -> None:
    before = len(await _schedules(trial))
    refused = (await trial.gql(trial.coordinator, CREATE, s=trial.study, r=policy))["data"]
    assert refused["createDiarySchedule"] == {
        "__typename": "MutationError",
        "code": "VALIDATION_FAILED",
        "field": field,
    }
    assert len(await _schedules(trial)) == before
