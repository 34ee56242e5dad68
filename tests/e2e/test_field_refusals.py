"""A refused field comes back null with an error for that field; its object stays."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.relay import from_global_id
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import SiteId, StudyId
from tests.e2e.conftest import PASSWORD, create_user
from tests.e2e.trial import (
    LOGIN,
    SUBMIT_DIARY,
    AppTrial,
    build_app_trial,
    diary_entry,
    open_occurrence,
)


@pytest.fixture
async def trial(client: httpx.AsyncClient, settings: Settings) -> AppTrial:
    return await build_app_trial(client, settings)


async def _monitor(trial: AppTrial, settings: Settings) -> str:
    grant = Grant(
        Role.MONITOR,
        StudyId(from_global_id(trial.study)[1]),
        SiteId(from_global_id(trial.site)[1]),
    )
    body = await trial.gql(None, LOGIN, e=await create_user(settings, (grant,)), p=PASSWORD)
    token: str = body["data"]["login"]["accessToken"]
    return token


def _refused_field(body: dict[str, Any], field: str) -> dict[str, Any]:
    """The node, which must be there, after checking its one error is about `field`."""
    node: dict[str, Any] = body["data"]["node"]
    assert node is not None, body
    assert node[field] is None
    [error] = body["errors"]
    assert error["path"] == ["node", field]
    assert error["extensions"]["code"] in ("FORBIDDEN", "NOT_FOUND")
    return node


async def test_a_monitor_sees_the_diary_entry_without_its_free_text(
    trial: AppTrial, settings: Settings
) -> None:
    due = await open_occurrence(lambda q, **v: trial.gql(trial.app, q, **v), trial.participant)
    sent = await trial.gql(trial.app, SUBMIT_DIARY, e=[diary_entry(due)])
    entry = sent["data"]["submitDiaryEntries"]["results"][0]["entry"]["id"]
    query = "query($id: ID!) { node(id: $id) { ... on DiaryEntry { id answers freeText } } }"
    body = await trial.gql(await _monitor(trial, settings), query, id=entry)
    node = _refused_field(body, "freeText")
    assert (node["id"], node["answers"]) == (entry, {"PAIN": 3})
    assert "Knee hurts" not in str(body)
    seen = await trial.gql(trial.coordinator, query, id=entry)
    assert seen["data"]["node"]["freeText"] == {"NOTE": "Knee hurts"}


async def test_a_monitor_sees_the_device_without_its_serial(
    trial: AppTrial, settings: Settings
) -> None:
    query = "query($id: ID!) { node(id: $id) { ... on Device { id model serial } } }"
    body = await trial.gql(await _monitor(trial, settings), query, id=trial.device)
    assert _refused_field(body, "serial")["model"] == "Watch"


async def test_the_participant_sees_their_record_without_the_site(trial: AppTrial) -> None:
    query = "query($id: ID!) { node(id: $id) { ... on Participant { id status site { id } } } }"
    body = await trial.gql(trial.app, query, id=trial.participant)
    assert _refused_field(body, "site")["status"] == "ENROLLED"


async def test_site_staff_see_the_study_without_its_exports(trial: AppTrial) -> None:
    query = "query($id: ID!) { node(id: $id) { ... on Study { id code exports { id } } } }"
    body = await trial.gql(trial.coordinator, query, id=trial.study)
    assert _refused_field(body, "exports")["id"] == trial.study
