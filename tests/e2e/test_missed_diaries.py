"""Missed diaries over GraphQL: after the worker's check, each diary that can no longer be
answered is listed by `protocolDeviations` as an automatic MISSED_ASSESSMENT (MINOR)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import build_runtime
from api.relay import from_global_id
from api.settings import Settings
from domain.ids import StudyId
from domain.services import missed_diaries
from tests.clock import CLOCK, PINNED_AT
from tests.e2e.trial import AppTrial, build_app_trial
from tests.factories import caller

LIST = "query($p: ID!) { protocolDeviations(participantId: $p) { category severity source triggerType triggerId status term occurredOn } }"


@pytest.fixture(scope="module")
async def trial(app: Starlette, settings: Settings) -> AsyncIterator[AppTrial]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        yield await build_app_trial(http, settings)


async def _listed(trial: AppTrial) -> list[dict[str, Any]]:
    body = await trial.gql(trial.coordinator, LIST, p=trial.participant)
    found: list[dict[str, Any]] = body["data"]["protocolDeviations"]
    return found


async def test_missed_diaries_are_listed_with_their_category(
    trial: AppTrial, settings: Settings
) -> None:
    before = await _listed(trial)
    runtime = build_runtime(settings, clock=CLOCK)
    try:
        CLOCK.advance(hours=4)  # the hourly diaries go unanswered
        # Only this study: the session database holds other modules' studies too.
        study = [StudyId(from_global_id(trial.study, "Study")[1])]
        uows = runtime.services.uow
        raised = await missed_diaries.check(uows=uows, ctx=caller(), study_ids=study)
        assert raised > 0
        assert await missed_diaries.check(uows=uows, ctx=caller(), study_ids=study) == 0
    finally:
        await runtime.close()
        CLOCK.pin(PINNED_AT)  # the trial's sessions were signed in at the pinned time
    new = [d for d in await _listed(trial) if d not in before]
    assert len(new) == raised
    for d in new:
        assert (d["category"], d["severity"], d["source"], d["status"]) == (
            "MISSED_ASSESSMENT",
            "MINOR",
            "AUTOMATIC",
            "OPEN",
        )
        assert (d["triggerType"], d["triggerId"]) == ("DiaryOccurrence", None)
        assert d["term"].startswith("Diary PAIN due ")
