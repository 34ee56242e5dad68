"""The web console in a real browser: Debian's Chromium driven by Playwright against the
server in its own process (uvicorn on a free port, the session database, a pinned clock).

Every page visited is checked by axe-core for serious and critical accessibility problems,
and the browser reports no error (a CSP refusal would show here)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, async_playwright, expect

from api.app import Worker, build_runtime
from api.relay import to_global_id
from api.settings import Settings
from domain.exports import ExportStatus
from domain.services import exports
from infra.crypto.keys import KeyFileProvider
from tests.browser.console_trial import SERVER_AT, Trial, console_trial
from tests.browser.console_trial import participant_page as _participant_page
from tests.browser.console_trial import sign_in as _sign_in
from tests.browser.harness import accessibility_violations, chromium
from tests.clock import CLOCK, PinnedClock
from tests.conftest import ScratchDatabase
from tests.e2e.conftest import PASSWORD
from tests.e2e.trial import DUE, ENROL, SUBMIT_DIARY
from tests.factories import admin, caller
from tests.world import PEOPLE

SCREENSHOTS = os.environ.get("HEARTH_CONSOLE_SCREENSHOTS")  # e.g. docs/console


@pytest.fixture(scope="module")
async def trial(
    settings: Settings,
    database: ScratchDatabase,
    key_file: Path,
    keys: KeyFileProvider,  # the key file exists before the server process opens it
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Trial]:
    workdir = tmp_path_factory.mktemp("console")
    async with console_trial(settings, database, key_file, workdir) as made:
        yield made


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable)
        yield launched
        await launched.close()


async def test_a_coordinator_enrols_a_participant_and_sees_the_qr_code(
    browser: Browser, trial: Trial
) -> None:
    screen = await _sign_in(browser, trial, trial.coordinator)
    page = screen.page
    await page.get_by_label("Screening number").fill("SCR-NY-7")
    await page.get_by_label("Participant's time zone").fill("America/New_York")
    await page.get_by_role("button", name="Register and issue enrolment code").click()
    qr = page.get_by_role("img", name="QR code of the enrolment link")
    await expect(qr).to_be_visible()
    code = (await page.locator("#enrolment-code").inner_text()).strip()
    assert len(code) >= 8
    # A code lasts a day; its expiry in the site's zone, and in the participant's (it differs).
    await expect(page.locator("figcaption time").first).to_have_text("2026-06-11 12:30 CEST")
    await expect(page.locator("figcaption time").last).to_have_text("2026-06-11 06:30 EDT")
    await screen.check()
    await page.get_by_role("link", name="To the participant's page").click()
    await expect(
        page.get_by_text("America/New_York", exact=True)
    ).to_be_visible()  # not the site zone
    await screen.check()


async def test_a_coordinator_schedules_and_reschedules_a_visit_with_a_reason(
    browser: Browser, trial: Trial
) -> None:
    screen = await _sign_in(browser, trial, trial.coordinator)
    page = screen.page
    await page.goto(_participant_page(trial))
    await expect(page.get_by_text(PEOPLE[0]["full_name"])).to_be_visible()  # may see contacts
    chart = page.get_by_role("img", name="HEART_RATE (/min)")
    await expect(chart).to_be_visible()
    await expect(chart.locator("circle")).to_have_count(4)  # one dot a reading
    await expect(chart).to_contain_text("77")  # the highest value labels the axis
    await screen.check()
    form = page.locator("#schedule-form")
    await form.get_by_label("Mode").select_option("VIDEO")
    await form.get_by_label("Starts").fill("2026-06-17T10:00")
    await form.get_by_role("button", name="Schedule a visit").click()
    row = page.get_by_role("row").filter(has_text="2026-06-17 10:00")
    await expect(row).to_contain_text("VIDEO")
    await expect(row).to_contain_text("in window")
    # From the keyboard: Enter opens the reason dialog, Escape closes it again.
    await row.get_by_role("button", name="Reschedule").focus()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Reschedule")
    await expect(dialog).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await row.get_by_role("button", name="Reschedule").click()
    await expect(dialog).to_be_visible()
    await screen.check()  # with the reason dialog open
    await dialog.get_by_label("New start").fill("2026-06-18T14:30")
    await dialog.get_by_role("button", name="Save").click()
    # The reason is required: the browser keeps the dialog open until one is given.
    await expect(dialog).to_be_visible()
    await dialog.get_by_label("Reason").fill("Participant asked for the afternoon")
    await dialog.get_by_role("button", name="Save").click()
    moved = page.get_by_role("row").filter(has_text="2026-06-18 14:30")
    await expect(moved).to_contain_text("SCHEDULED")
    await expect(page.get_by_role("row").filter(has_text="2026-06-17 10:00")).to_have_count(0)
    await screen.check()


async def test_a_diary_sent_through_the_participants_api_appears_without_reloading(
    browser: Browser, trial: Trial
) -> None:
    screen = await _sign_in(browser, trial, trial.coordinator)
    page = screen.page
    # A fresh enrolment code for the participant's app, issued from the console.
    await page.goto(_participant_page(trial))
    await page.get_by_role("button", name="Issue a new enrolment code").click()
    code = (await page.locator("#enrolment-code").inner_text()).strip()
    if SCREENSHOTS:
        await page.goto(_participant_page(trial))
        await page.screenshot(path=str(Path(SCREENSHOTS) / "participant.png"), full_page=True)
    await page.goto("/console")
    subject = trial.world.people[0].subject_id
    cell = page.locator(f'[data-diaries="{subject}"]')
    before = int(await cell.inner_text())
    await page.evaluate("window.notReloaded = true")
    async with httpx.AsyncClient(base_url=trial.url) as http:

        async def gql(query: str, token: str | None = None, **variables: Any) -> Any:
            headers = {"authorization": f"Bearer {token}"} if token else {}
            sent = await http.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers
            )
            assert sent.status_code == 200, sent.text
            return sent.json()

        enrolled = await gql(ENROL, c=code)
        token = enrolled["data"]["enrolParticipant"]["accessToken"]
        due = await gql(
            DUE,
            token,
            p=to_global_id("Participant", trial.world.people[0].id),
            s=(SERVER_AT - timedelta(hours=1)).isoformat(),
            e=(SERVER_AT + timedelta(hours=1)).isoformat(),
        )
        (open_now,) = [
            d
            for d in due["data"]["node"]["diaryDue"]
            if datetime.fromisoformat(d["dueAt"])
            <= SERVER_AT
            < datetime.fromisoformat(d["closesAt"])
        ]
        entry = {
            "clientId": str(uuid.uuid4()),
            "scheduleId": open_now["scheduleId"],
            "occurrenceKey": open_now["occurrenceKey"],
            "questionnaireCode": open_now["questionnaire"]["code"],
            "questionnaireVersion": open_now["questionnaire"]["version"],
            "contentHash": open_now["questionnaire"]["contentHash"],
            "answers": {"SEVERITY": 4},
            "completedAt": SERVER_AT.isoformat(),
        }
        sent = await gql(SUBMIT_DIARY, token, e=[entry])
        assert sent["data"]["submitDiaryEntries"]["results"][0]["outcome"] == "ACCEPTED", sent
    await expect(cell).to_have_text(str(before + 1), timeout=15_000)
    assert await page.evaluate("window.notReloaded === true")  # the same page, updated in place
    await screen.check()
    if SCREENSHOTS:
        await page.screenshot(path=str(Path(SCREENSHOTS) / "dashboard.png"), full_page=True)


async def test_a_monitor_raises_a_query_the_coordinator_answers_it_and_the_monitor_closes_it(
    browser: Browser, trial: Trial
) -> None:
    monitor = await _sign_in(browser, trial, trial.monitor)
    await monitor.page.goto(_participant_page(trial, 0))
    await monitor.check()
    question = "Severity 6 the same day as 2: please check the source"
    await monitor.page.get_by_label("Question").fill(question)
    await monitor.page.get_by_role("button", name="Raise a query").click()
    raised = monitor.page.locator("[data-query]").filter(has_text=question)
    await expect(raised).to_contain_text("OPEN")
    await monitor.check()

    coordinator = await _sign_in(browser, trial, trial.coordinator)
    await coordinator.page.goto(_participant_page(trial, 0))
    item = coordinator.page.locator("[data-query]").filter(has_text=question)
    await item.get_by_label("Answer").fill("Checked against the paper diary: both are right")
    await item.get_by_role("button", name="Send answer").click()
    await expect(item).to_contain_text("ANSWERED")
    await expect(item.get_by_role("button", name="Close query")).to_have_count(0)
    await coordinator.check()

    await monitor.page.reload()
    await (
        monitor.page.locator("[data-query]")
        .filter(has_text=question)
        .get_by_role("button", name="Close query")
        .click()
    )
    await expect(monitor.page.locator("[data-query]").filter(has_text=question)).to_contain_text(
        "CLOSED"
    )
    await monitor.check()


async def test_a_monitor_sees_no_edit_buttons_and_its_posts_are_refused(
    browser: Browser, trial: Trial
) -> None:
    screen = await _sign_in(browser, trial, trial.monitor)
    page = screen.page
    await expect(
        page.get_by_role("button", name="Register and issue enrolment code")
    ).to_have_count(0)
    await page.goto(_participant_page(trial))
    await screen.check()
    await expect(page.locator(f'[data-visit="{trial.visit_id}"]')).to_be_visible()
    for label in (
        "Reschedule",
        "Cancel visit",
        "Complete",
        "Correct",
        "Schedule a visit",
        "Issue a new enrolment code",
        "Send answer",
    ):
        await expect(page.get_by_role("button", name=label, exact=True)).to_have_count(0)
    await expect(page.get_by_text(PEOPLE[0]["full_name"])).to_have_count(0)  # no contacts
    csrf = await screen.csrf()  # the monitor's own, valid token
    refused = {
        f"/console/visits/{trial.visit_id}/cancel": {"reason": "monitor tries"},
        f"/console/visits/{trial.visit_id}/reschedule": {
            "local_start": "2026-06-19T09:00",
            "reason": "monitor tries",
        },
        f"/console/participants/{trial.world.people[0].id}/visits": {
            "definition": str(trial.definition.id),
            "mode": "PHONE",
            "local_start": "2026-06-19T09:00",
        },
        f"/console/participants/{trial.world.people[0].id}/code": {},
        f"/console/sites/{trial.world.site.id}/enrol": {"screening_number": "SCR-MON"},
    }
    for path, values in refused.items():
        answer = await page.request.post(path, form={"csrf": csrf, **values}, max_redirects=0)
        assert answer.status == 403, (path, await answer.text())
        assert "FORBIDDEN" in await answer.text()
    await page.reload()
    await expect(page.locator(f'[data-visit="{trial.visit_id}"]')).to_contain_text(
        "2026-06-16 09:00"
    )
    await expect(page.locator(f'[data-visit="{trial.visit_id}"]')).to_contain_text("SCHEDULED")


async def test_posts_without_the_csrf_token_are_refused(browser: Browser, trial: Trial) -> None:
    screen = await _sign_in(browser, trial, trial.coordinator)
    page = screen.page
    cancel = f"/console/visits/{trial.visit_id}/cancel"
    forms: list[dict[str, str | float | bool]] = [
        {"reason": "no token"},
        {"reason": "wrong token", "csrf": "0" * 64},
    ]
    for form in forms:
        answer = await page.request.post(cancel, form=form, max_redirects=0)
        assert answer.status == 403
        assert "CSRF" in await answer.text()
    # Another staff member's token does not work with this cookie either.
    other = await _sign_in(browser, trial, trial.monitor)
    answer = await page.request.post(
        cancel, form={"reason": "borrowed", "csrf": await other.csrf()}, max_redirects=0
    )
    assert answer.status == 403
    await page.goto(_participant_page(trial))
    await expect(page.locator(f'[data-visit="{trial.visit_id}"]')).to_contain_text("SCHEDULED")


async def test_the_console_speaks_german_and_stays_accessible(
    browser: Browser, trial: Trial
) -> None:
    screen = await _sign_in(browser, trial, trial.coordinator)
    page = screen.page
    await page.goto("/console?lang=de")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Standort-Übersicht")
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    await screen.check()
    await page.goto(_participant_page(trial))  # the choice holds on the next page
    await expect(page.get_by_role("heading", name="Visiten", exact=True)).to_be_visible()
    await screen.check()


async def test_the_accessibility_check_finds_what_it_should(browser: Browser) -> None:
    """The check itself can fail: an unlabelled field and an image without text are caught."""
    page = await browser.new_page()
    try:
        await page.set_content('<html lang="en"><main><img src="x.png"><input></main></html>')
        found = {v["id"] for v in await accessibility_violations(page)}
    finally:
        await page.close()
    assert {"image-alt", "label"} <= found


async def test_an_investigator_signs_a_visit_after_entering_the_password_again(
    browser: Browser, trial: Trial
) -> None:
    screen = await _sign_in(browser, trial, trial.investigator)
    page = screen.page
    await page.goto(_participant_page(trial))
    row = page.locator(f'[data-visit="{trial.visit_id}"]')
    await row.get_by_role("button", name="Sign").click()
    dialog = page.get_by_role("dialog", name="Sign")
    await screen.check()
    await dialog.get_by_label("Meaning").select_option("RESPONSIBILITY")
    await dialog.get_by_label("Password").fill("not my password at all")
    await dialog.get_by_role("button", name="Sign").click()
    await expect(page.get_by_role("alert")).to_contain_text("INVALID_CREDENTIALS")
    assert [e for e in screen.errors if "401" not in e] == []  # the browser notes the 401
    screen.errors.clear()
    await screen.check()
    await page.goto(_participant_page(trial))
    await row.get_by_role("button", name="Sign").click()
    await dialog.get_by_label("Password").fill(PASSWORD)
    await dialog.get_by_role("button", name="Sign").click()
    await expect(row).to_contain_text("Signed by Test User · RESPONSIBILITY")
    await screen.check()


async def test_a_data_manager_starts_an_export_and_downloads_it(
    browser: Browser, trial: Trial, worker: Worker, clock: PinnedClock, settings: Settings
) -> None:
    clock.pin(SERVER_AT)  # the worker's clock and the server's agree
    screen = await _sign_in(browser, trial, trial.data_manager)
    page = screen.page
    await page.get_by_role("link", name=f"{trial.world.study.code}: World").click()
    await screen.check()
    await page.get_by_label("Format").select_option("FHIR")
    await page.get_by_role("button", name="Start an export").click()
    row = page.locator("[data-export]")
    await expect(row).to_have_count(1)
    job_id = uuid.UUID(await row.get_attribute("data-export") or "")
    await _until_done(settings, job_id)
    await page.reload()
    await expect(row).to_contain_text("DONE")
    await screen.check()
    link = row.get_by_role("link").first
    async with page.expect_download() as started:
        await link.click()
    download = await started.value
    saved = await download.path()
    assert saved.stat().st_size > 0
    # A coordinator of the site may not export: the same rule as over GraphQL.
    coordinator = await _sign_in(browser, trial, trial.coordinator)
    refused = await coordinator.page.request.get(
        f"/console/exports/{job_id}/{download.suggested_filename}", max_redirects=0
    )
    assert refused.status in (403, 404)


async def _until_done(settings: Settings, job_id: uuid.UUID) -> None:
    """Follow the job as the data manager's screen would, until the worker has finished it."""
    runtime = build_runtime(settings, clock=CLOCK)
    try:
        for _ in range(600):
            job = await exports.get(uow=runtime.services.uow(), ctx=caller(admin()), job_id=job_id)
            if job.status_at(CLOCK.now()) is ExportStatus.DONE:
                return
            assert job.status_at(CLOCK.now()) is not ExportStatus.FAILED, job.error
            await asyncio.sleep(0.05)
    finally:
        await runtime.close()
    raise AssertionError("the export did not finish")
