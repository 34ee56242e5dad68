"""The trial the console's browser tests work on, and a signed-in browser tab."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from api.app import build_runtime
from api.settings import Settings
from domain.actors import Actor, ActorKind, Grant, Role
from domain.design import ContactMode, VisitDefinition
from domain.ports import UnitOfWorkFactory
from domain.readings import ReadingKind
from domain.services import design, devices, readings, visits
from tests.browser.harness import accessibility_violations, console_server
from tests.clock import CLOCK, PINNED_AT
from tests.conftest import ScratchDatabase
from tests.e2e.conftest import PASSWORD, create_user
from tests.factories import admin, caller
from tests.world import World, add_diary, build_world

SERVER_AT = PINNED_AT + timedelta(hours=1)


@dataclass
class Trial:
    url: str
    world: World
    definition: VisitDefinition
    visit_id: uuid.UUID
    coordinator: str
    monitor: str
    investigator: str
    data_manager: str


@contextlib.asynccontextmanager
async def console_trial(
    settings: Settings, database: ScratchDatabase, key_file: Path, workdir: Path
) -> AsyncIterator[Trial]:
    """A site with two participants (one consented, with diaries, a visit and heart rates),
    a coordinator, a monitor, an investigator and a data manager who sign in with a password,
    and the console server running on them."""
    runtime = build_runtime(settings, clock=CLOCK)
    try:
        uow = runtime.services.uow
        world = await build_world(uow)
        await add_diary(uow, world)
        definition = await design.create_visit_definition(
            uow=uow(),
            ctx=caller(admin()),
            study_id=world.study.id,
            code="W1",
            name="Week 1 call",
            day=7,
            window_before=2,
            window_after=2,
            modes=(ContactMode.VIDEO, ContactMode.PHONE),
        )
        visit = await visits.schedule(
            uow=uow(),
            ctx=caller(world.coordinator),
            participant_id=world.people[0].id,
            definition_id=definition.id,
            mode=ContactMode.PHONE,
            local_start=datetime(2026, 6, 16, 9, 0),
        )
        await heart_rates(uow, world)
    finally:
        await runtime.close()
    site = (world.study.id, world.site.id)
    coordinator = await create_user(settings, (Grant(Role.COORDINATOR, *site),))
    monitor = await create_user(settings, (Grant(Role.MONITOR, *site),))
    investigator = await create_user(settings, (Grant(Role.INVESTIGATOR, *site),))
    data_manager = await create_user(settings, (Grant(Role.DATA_MANAGER, world.study.id),))
    export_dir = settings.export_dir
    assert export_dir is not None
    async with console_server(database, key_file, export_dir, workdir, SERVER_AT) as url:
        yield Trial(
            url, world, definition, visit.id, coordinator, monitor, investigator, data_manager
        )


async def heart_rates(uow: UnitOfWorkFactory, world: World) -> None:
    """A watch on the first participant and four heart rates after her consent, sent by her
    app (the clock moves on to when it sends them; each test pins it back)."""
    staff = caller(world.coordinator)
    person = world.people[0]
    me = caller(
        Actor(
            ActorKind.PARTICIPANT,
            person.id,
            (Grant(Role.PARTICIPANT, world.study.id, world.site.id),),
        )
    )
    watch = await devices.register(
        uow=uow(),
        ctx=staff,
        site_id=world.site.id,
        kinds=(ReadingKind.HEART_RATE,),
        model="Watch",
        serial=f"W-{uuid.uuid4().hex[:8]}",
    )
    await devices.assign(uow=uow(), ctx=staff, device_id=watch.id, participant_id=person.id)
    items: list[object] = [
        {
            "deviceId": str(watch.id),
            "kind": "HEART_RATE",
            "sourceId": f"hr-chart-{n}",
            "body": {
                "heart_rate": {"value": value, "unit": "beats/min"},
                "effective_time_frame": {
                    "date_time": (PINNED_AT + timedelta(minutes=10 * (n + 1))).isoformat()
                },
            },
        }
        for n, value in enumerate((62, 71, 68, 77))
    ]
    CLOCK.pin(PINNED_AT + timedelta(minutes=50))  # sent after they were taken (and consented)
    done = await readings.ingest(uow=uow(), ctx=me, items=items)
    assert all(i.reading_id is not None for i in done.items), done


class Screen:
    """One signed-in browser tab, which records what the browser complained about."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    async def check(self) -> None:
        """No serious accessibility problem and no browser error on the page as it stands."""
        assert await accessibility_violations(self.page) == []
        assert self.errors == []

    async def csrf(self) -> str:
        value = await self.page.locator("input[name=csrf]").first.get_attribute("value")
        assert value
        return value


async def sign_in(browser: Browser, trial: Trial, email: str, lang: str = "en-GB") -> Screen:
    context = await browser.new_context(base_url=trial.url, locale=lang, timezone_id="UTC")
    screen = Screen(await context.new_page())
    page = screen.page
    await page.goto("/console/sign-in")
    await screen.check()
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Site dashboard")
    await screen.check()
    return screen


def participant_page(trial: Trial, n: int = 0) -> str:
    return f"/console/participants/{trial.world.people[n].id}"
