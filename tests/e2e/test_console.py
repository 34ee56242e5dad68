"""The web console over real HTTP: sign-in, cookies, CSRF, CSP, the dashboard and its stream."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
from starlette.applications import Starlette

from api.app import build_runtime
from api.console import web as console_web
from api.console.i18n import catalogue
from api.relay import from_global_id
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import SiteId, StudyId
from domain.services import participants
from infra.db.site_changes import SqlSiteChanges
from tests.clock import CLOCK
from tests.e2e.conftest import PASSWORD, create_user
from tests.e2e.trial import build_app_trial
from tests.factories import caller
from tests.world import build_world

_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def _csrf(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, html
    return found.group(1)


async def _coordinator(settings: Settings) -> tuple[str, SiteId]:
    """A study with a site and participants (built through the use cases), and a coordinator
    of that site who signs in with a password."""
    runtime = build_runtime(settings, clock=CLOCK)
    try:
        world = await build_world(runtime.services.uow)
    finally:
        await runtime.close()
    grant = Grant(Role.COORDINATOR, study_id=world.study.id, site_id=world.site.id)
    return await create_user(settings, (grant,)), world.site.id


async def _sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    page = await client.get("/console/sign-in")
    return await client.post(
        "/console/sign-in",
        data={"csrf": _csrf(page.text), "email": email, "password": password},
    )


async def test_sign_in_sets_a_strict_http_only_cookie_and_shows_the_dashboard(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    email, site = await _coordinator(settings)
    signed = await _sign_in(client, email, PASSWORD)
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert "hearth_console=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    dashboard = await client.get("/console")
    assert dashboard.status_code == 200
    assert str(site) in dashboard.text
    csp = dashboard.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "<script>" not in dashboard.text


async def test_a_wrong_password_is_refused_and_no_cookie_is_set(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    email, _ = await _coordinator(settings)
    refused = await _sign_in(client, email, "not the password at all")
    assert refused.status_code == 401
    assert "hearth_console=" not in refused.headers.get("set-cookie", "")
    assert (await client.get("/console")).status_code == 303


async def test_posts_without_the_csrf_token_are_refused(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    email, _ = await _coordinator(settings)
    await client.get("/console/sign-in")
    no_token = await client.post("/console/sign-in", data={"email": email, "password": PASSWORD})
    assert no_token.status_code == 403
    assert (await _sign_in(client, email, PASSWORD)).status_code == 303
    sign_out = await client.post("/console/sign-out", data={"csrf": "0" * 64})
    assert sign_out.status_code == 403
    assert (await client.get("/console")).status_code == 200  # still signed in


async def test_sign_out_ends_the_console_session(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    email, _ = await _coordinator(settings)
    await _sign_in(client, email, PASSWORD)
    dashboard = await client.get("/console")
    out = await client.post("/console/sign-out", data={"csrf": _csrf(dashboard.text)})
    assert out.status_code == 303
    assert (await client.get("/console")).status_code == 303


async def test_the_site_stream_needs_a_grant_on_that_site(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    email, site = await _coordinator(settings)
    assert (await client.get(f"/console/sites/{site}/participants")).status_code == 401
    await _sign_in(client, email, PASSWORD)
    other = uuid.uuid4()
    assert (await client.get(f"/console/sites/{other}/events")).status_code == 403
    assert (await client.get(f"/console/sites/{other}/participants")).status_code == 403
    fragment = await client.get(f"/console/sites/{site}/participants")
    assert fragment.status_code == 200


async def test_german_text_comes_from_its_catalogue(client: httpx.AsyncClient) -> None:
    page = await client.get("/console/sign-in", headers={"accept-language": "de-DE,de;q=0.9"})
    assert "Anmelden" in page.text
    assert 'lang="de"' in page.text


async def test_the_dashboard_lists_the_sites_participants(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    runtime = build_runtime(settings, clock=CLOCK)
    try:
        world = await build_world(runtime.services.uow)
    finally:
        await runtime.close()
    grant = Grant(Role.COORDINATOR, study_id=world.study.id, site_id=world.site.id)
    email = await create_user(settings, (grant,))
    await _sign_in(client, email, PASSWORD)
    dashboard = (await client.get("/console")).text
    for person in world.people:
        assert person.subject_id in dashboard
    assert "SCR-000" not in dashboard  # the sealed screening number is not on the dashboard


async def test_a_change_at_the_site_is_noticed_and_other_sites_stay_quiet(
    settings: Settings,
) -> None:
    runtime = build_runtime(settings, clock=CLOCK)
    try:
        world = await build_world(runtime.services.uow)
        changes = SqlSiteChanges(runtime.storage.sessions, poll_seconds=0.05, timeout_seconds=0.3)
        before = await changes.newest(world.site.id)
        assert before > 0
        assert await changes.wait_for_site_change(world.site.id, before) is None
        await participants.register_participant(
            uow=runtime.services.uow(),
            ctx=caller(world.coordinator),
            site_id=world.site.id,
            screening_number="SCR-LIVE",
        )
        after = await changes.wait_for_site_change(world.site.id, before)
        assert after is not None
        assert after > before
        assert await changes.newest(SiteId(uuid.uuid4())) == 0
    finally:
        await runtime.close()


def test_both_catalogues_have_every_message_the_templates_use() -> None:
    templates = Path(console_web.__file__).with_name("templates")
    used = {
        key
        for page in templates.glob("*.html")
        for key in re.findall(r"\bt\.([a-z_]+)", page.read_text(encoding="utf-8"))
    }
    english, german = catalogue("en"), catalogue("de")
    assert english.keys() == german.keys()
    assert used <= english.keys(), used - english.keys()
    assert {k for k in english if k.startswith("kind_")} == {
        "kind_visit",
        "kind_diary",
        "kind_reading",
    }


async def test_the_dashboard_shows_compliance_windows_and_open_alerts_staff_acknowledge(
    settings: Settings, app: Starlette, client: httpx.AsyncClient
) -> None:
    from tests.e2e.test_alerts import ALERTS, RECORD, SET_RULE

    trial = await build_app_trial(client, settings)
    rule = {"studyId": trial.study, "kind": "SERIOUS_ADVERSE_EVENT"}
    assert (await trial.gql(trial.coordinator, SET_RULE, i=rule))["data"]["setAlertRule"]
    event = {"term": "Chest pain", "severity": "SEVERE", "seriousness": ["HOSPITALISATION"]}
    await trial.gql(trial.coordinator, RECORD, p=trial.participant, e=event)
    (alert,) = (await trial.gql(trial.coordinator, ALERTS, s=trial.site, st="OPEN"))["data"][
        "alerts"
    ]
    alert_id = str(from_global_id(alert["id"], "Alert")[1])
    study = StudyId(from_global_id(trial.study, "Study")[1])
    site = SiteId(from_global_id(trial.site, "Site")[1])
    coordinator = await create_user(settings, (Grant(Role.COORDINATOR, study, site),))
    monitor = await create_user(settings, (Grant(Role.MONITOR, study, site),))
    await _sign_in(client, coordinator, PASSWORD)
    dashboard = (await client.get("/console")).text
    # The same numbers as the API's, for each window.
    counts = "{ on: onTime late missed }"
    windows = f"l7: compliance(lastDays: 7) {counts} l28: compliance(lastDays: 28) {counts} all: compliance {counts}"
    api = (
        await trial.gql(
            trial.coordinator,
            f"query($s: ID!) {{ node(id: $s) {{ ... on Site {{ {windows} }} }} }}",
            s=trial.site,
        )
    )["data"]["node"]
    for window, key in (("last_7", "l7"), ("last_28", "l28"), ("all", "all")):
        for row, field in (("on_time", "on"), ("late", "late"), ("missed", "missed")):
            cell = f'data-compliance="{window}-{row}">{api[key][field]}<'
            assert cell in dashboard, cell
    wrong = await trial.gql(
        trial.coordinator,
        "query($s: ID!) { node(id: $s) { ... on Site { compliance(lastDays: 0) { expected } } } }",
        s=trial.site,
    )
    assert wrong["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED", wrong
    assert "Serious adverse event" in dashboard
    action = f'action="/console/alerts/{alert_id}/acknowledge"'
    assert action in dashboard
    url = f"/console/alerts/{alert_id}/acknowledge"
    assert (await client.post(url, data={"note": "Called the participant"})).status_code == 403
    done = await client.post(url, data={"csrf": _csrf(dashboard), "note": "Called the participant"})
    assert (done.status_code, done.headers["location"]) == (303, "/console")
    after = (await trial.gql(trial.coordinator, ALERTS, s=trial.site, st="ACKNOWLEDGED"))["data"]
    assert [a["note"] for a in after["alerts"]] == ["Called the participant"]
    assert action not in (await client.get("/console")).text  # no longer open

    # A monitor sees the site's alerts but may not acknowledge one: no form, and a post is refused.
    await trial.gql(trial.coordinator, RECORD, p=trial.participant, e=event)
    (second,) = (await trial.gql(trial.coordinator, ALERTS, s=trial.site, st="OPEN"))["data"][
        "alerts"
    ]
    second_id = str(from_global_id(second["id"], "Alert")[1])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as other:
        await _sign_in(other, monitor, PASSWORD)
        seen = (await other.get("/console")).text
        assert "Serious adverse event" in seen
        assert "/acknowledge" not in seen
        refused = await other.post(
            f"/console/alerts/{second_id}/acknowledge", data={"csrf": _csrf(seen), "note": "x"}
        )
        assert refused.status_code == 403
