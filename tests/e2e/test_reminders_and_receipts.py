"""Over HTTP, as the participant's app and site staff use them: push subscriptions, the
offline plan, reminders pushed and acknowledged, receipts of submissions and their
inclusion proofs checked by the independent verifier."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest
from starlette.applications import Starlette

from api.app import build_runtime
from api.relay import from_global_id
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import SiteId, StudyId
from domain.services import reminders
from domain.services.reminders import NotifyingUnitOfWork
from infra.notifications.webpush import WebPushChannel
from tests import receipt_verifier
from tests.clock import CLOCK
from tests.e2e.conftest import PASSWORD, create_user
from tests.e2e.trial import (
    CREATE_SITE,
    CREATE_STUDY,
    AppTrial,
    build_app_trial,
    diary_entry,
    heart_rate,
    open_occurrence,
)
from tests.notification_receivers import PushService, push_service, vapid

SUBMIT = (
    "mutation($e: [DiaryEntryInput!]!) { submitDiaryEntries(input: {entries: $e}) { "
    "__typename ... on SubmitDiaryEntriesSuccess { results { outcome receipt { log eventId "
    "digest } } } ... on MutationError { code } } }"
)
READINGS = (
    "mutation($i: [ReadingInput!]!) { submitReadings(input: {items: $i}) { __typename "
    "... on SubmitReadingsSuccess { accepted receipt { log eventId digest } } "
    "... on MutationError { code } } }"
)
PROOF = (
    "query($r: ReceiptInput!) { inclusionProof(receipt: $r) { log eventId digest eventBody "
    "previousHash leafIndex treeSize rootHash proof checkpoint } }"
)
KEY = "query($l: String!) { receiptLogKey(log: $l) }"
REGISTER_PUSH = (
    "mutation($e: String!, $k: String!, $a: String!) { registerPushSubscription(input: "
    "{endpoint: $e, keys: {p256dh: $k, auth: $a}}) { __typename ... on PushSubscriptionSuccess "
    "{ endpoint } ... on MutationError { code field } } }"
)
REMOVE_PUSH = (
    "mutation($e: String!) { removePushSubscription(input: {endpoint: $e}) { __typename "
    "... on RemovePushSubscriptionSuccess { removed } ... on MutationError { code } } }"
)
ACK = (
    "mutation($i: ID!) { acknowledgeNotification(input: {id: $i}) { __typename "
    "... on AcknowledgeNotificationSuccess { receipt { id state openedAt } } "
    "... on MutationError { code } } }"
)
ACK_AS = (
    "mutation($i: ID!, $s: NotificationState!) { acknowledgeNotification(input: {id: $i, "
    "state: $s}) { __typename ... on AcknowledgeNotificationSuccess { receipt { id state "
    "openedAt } } ... on MutationError { code } } }"
)
PLAN = (
    "query($p: ID!, $d: Int!) { node(id: $p) { ... on Participant { notificationPlan(days: $d) "
    "{ version timezone reminders { key rule at local closesAt title body } } } } }"
)
RECEIPTS = (
    "query($p: ID!) { node(id: $p) { ... on Participant { compliance { expected } "
    "notificationReceipts { queued sent opened failed items { id state channel template "
    "language reason } } } } }"
)
SITE_RECEIPTS = "query($s: ID!) { node(id: $s) { ... on Site { notificationReceipts { sent opened items { id } } } } }"
LOGIN = "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { ... on LoginSuccess { accessToken } } }"


@pytest.fixture
async def trial(app: Starlette, settings: Settings) -> AsyncIterator[AppTrial]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        yield await build_app_trial(http, settings)


@pytest.fixture
async def morning_trial(app: Starlette, settings: Settings) -> AsyncIterator[AppTrial]:
    """The trial built at 07:25 in Berlin: its tokens still valid when the 07:30 reminders go."""
    CLOCK.pin(datetime(2026, 6, 11, 5, 25, tzinfo=UTC))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        yield await build_app_trial(http, settings)


@pytest.fixture
async def push() -> AsyncIterator[PushService]:
    async with push_service() as service:
        yield service


async def _seal(settings: Settings) -> None:
    runtime = build_runtime(settings, clock=CLOCK)
    try:
        await runtime.seal_checkpoints()
    finally:
        await runtime.close()


async def _stranger(trial: AppTrial, settings: Settings) -> str:
    """A coordinator of a site in another study."""
    code = f"X{uuid.uuid4().hex[:6]}".upper()
    study = (await trial.gql(trial.admin, CREATE_STUDY, c=code))["data"]["createStudy"]["study"]
    site = (await trial.gql(trial.admin, CREATE_SITE, s=study["id"], c="HAM"))["data"]
    grant = Grant(
        Role.COORDINATOR,
        StudyId(from_global_id(study["id"])[1]),
        SiteId(from_global_id(site["createSite"]["site"]["id"])[1]),
    )
    email = await create_user(settings, (grant,))
    body = await trial.gql(None, LOGIN, e=email, p=PASSWORD)
    return str(body["data"]["login"]["accessToken"])


async def test_a_diary_receipt_is_proved_and_verified_offline_and_tampering_fails(
    trial: AppTrial, settings: Settings
) -> None:
    due = await open_occurrence(lambda q, **v: trial.gql(trial.app, q, **v), trial.participant)
    sent = await trial.gql(trial.app, SUBMIT, e=[diary_entry(due)])
    [result] = sent["data"]["submitDiaryEntries"]["results"]
    assert result["outcome"] == "ACCEPTED"
    receipt = result["receipt"]
    assert receipt["digest"].startswith("sha256:")

    early = await trial.gql(trial.app, PROOF, r=receipt)
    assert early["errors"][0]["extensions"]["code"] == "RECEIPT_NOT_SEALED"
    await _seal(settings)

    proved = await trial.gql(trial.app, PROOF, r=receipt)
    proof = proved["data"]["inclusionProof"]
    key = (await trial.gql(None, KEY, l=receipt["log"]))["data"]["receiptLogKey"]
    assert receipt_verifier.verify(receipt, proof, key)
    # The site's coordinator may ask too; staff of another study and strangers may not.
    assert receipt_verifier.verify(
        receipt,
        (await trial.gql(trial.coordinator, PROOF, r=receipt))["data"]["inclusionProof"],
        key,
    )
    other = await trial.gql(await _stranger(trial, settings), PROOF, r=receipt)
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    anonymous = await trial.gql(None, PROOF, r=receipt)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    for field, value in (
        ("eventBody", proof["eventBody"].replace('"DiaryEntry"', '"DiaryEntrx"')),
        (
            "proof",
            [proof["proof"][-1], *proof["proof"][:-1]] if len(proof["proof"]) > 1 else ["AAAA"],
        ),
        ("leafIndex", proof["leafIndex"] + 1),
    ):
        tampered = copy.deepcopy(proof)
        tampered[field] = value
        assert not receipt_verifier.verify(receipt, tampered, key), field
    forged = dict(receipt, digest="sha256:" + "0" * 64)
    assert not receipt_verifier.verify(forged, proof, key)
    asked = await trial.gql(trial.app, PROOF, r=forged)
    assert asked["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    unknown = await trial.gql(None, KEY, l="hearth/" + str(uuid.uuid4()) + "/installation")
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_reading_batch_receipt_verifies(trial: AppTrial, settings: Settings) -> None:
    sent = await trial.gql(trial.app, READINGS, i=[heart_rate(trial.device_uuid)])
    done = sent["data"]["submitReadings"]
    assert done["accepted"] == 1
    receipt = done["receipt"]
    await _seal(settings)
    proof = (await trial.gql(trial.app, PROOF, r=receipt))["data"]["inclusionProof"]
    key = (await trial.gql(None, KEY, l=receipt["log"]))["data"]["receiptLogKey"]
    assert receipt_verifier.verify(receipt, proof, key)


async def test_the_app_subscribes_gets_its_plan_and_acknowledges_a_pushed_reminder(
    morning_trial: AppTrial, settings: Settings, push: PushService
) -> None:
    trial = morning_trial
    device = push.device("phone")
    bad = await trial.gql(trial.app, REGISTER_PUSH, e=device.endpoint, k="abc", a=device.auth_b64)
    assert bad["data"]["registerPushSubscription"] == {
        "__typename": "MutationError",
        "code": "VALIDATION_FAILED",
        "field": "keys.p256dh",
    }
    staff = await trial.gql(
        trial.coordinator, REGISTER_PUSH, e=device.endpoint, k=device.p256dh, a=device.auth_b64
    )
    assert staff["data"]["registerPushSubscription"]["__typename"] == "MutationError"
    made = await trial.gql(
        trial.app, REGISTER_PUSH, e=device.endpoint, k=device.p256dh, a=device.auth_b64
    )
    assert made["data"]["registerPushSubscription"]["endpoint"] == device.endpoint

    plan = (await trial.gql(trial.app, PLAN, p=trial.participant, d=2))["data"]["node"]
    plan = plan["notificationPlan"]
    assert plan["timezone"] == "Europe/Berlin"
    assert plan["reminders"], plan
    tomorrow = [r for r in plan["reminders"] if r["local"].startswith("2026-06-12")]
    assert len(tomorrow) == reminders.DEFAULT_POLICY.daily_cap  # the cap per local day
    assert all(r["local"].endswith("+02:00") for r in plan["reminders"])
    assert tomorrow[0]["local"] == "2026-06-12T07:30:00+02:00"  # quiet hours end at 07:30
    assert {r["body"] for r in plan["reminders"]} <= {
        "Your diary is ready.",
        "Your diary closes soon.",
        "You missed a diary. Open the app to see what is due.",
    }
    again = await trial.gql(trial.app, PLAN, p=trial.participant, d=2)
    assert again["data"]["node"]["notificationPlan"]["version"] == plan["version"]
    too_long = await trial.gql(trial.app, PLAN, p=trial.participant, d=30)
    assert too_long["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"

    # 07:31 in Berlin: the worker's tick pushes what is due now.
    CLOCK.pin(datetime(2026, 6, 11, 5, 31, tzinfo=UTC))
    runtime = build_runtime(settings, clock=CLOCK)
    try:
        report = await reminders.send_due(
            uows=lambda: cast(NotifyingUnitOfWork, runtime.services.uow()),
            channels={"webpush": WebPushChannel(vapid())},
        )
    finally:
        await runtime.close()
    assert report.sent == 2
    pushed = push.opened(device)
    assert sorted(p["body"] for p in pushed) == ["Your diary closes soon.", "Your diary is ready."]

    delivered = await trial.gql(trial.app, ACK_AS, i=pushed[0]["id"], s="DELIVERED")
    assert delivered["data"]["acknowledgeNotification"]["receipt"]["state"] == "DELIVERED"
    wrong = await trial.gql(trial.app, ACK_AS, i=pushed[0]["id"], s="SENT")
    assert wrong["data"]["acknowledgeNotification"]["code"] == "VALIDATION_FAILED"
    opened = await trial.gql(trial.app, ACK, i=pushed[0]["id"])
    receipt = opened["data"]["acknowledgeNotification"]["receipt"]
    assert (receipt["state"], receipt["openedAt"]) == ("OPENED", CLOCK.now().isoformat())
    late = await trial.gql(trial.app, ACK_AS, i=pushed[0]["id"], s="DELIVERED")
    assert late["data"]["acknowledgeNotification"]["receipt"] == receipt  # still opened
    twice = await trial.gql(trial.app, ACK, i=pushed[0]["id"])
    assert twice["data"]["acknowledgeNotification"]["receipt"] == receipt
    not_theirs = await trial.gql(trial.coordinator, ACK, i=pushed[0]["id"])
    assert not_theirs["data"]["acknowledgeNotification"]["code"] == "NOT_FOUND"
    unknown = await trial.gql(trial.app, ACK, i=str(uuid.uuid4()))
    assert unknown["data"]["acknowledgeNotification"]["code"] == "NOT_FOUND"
    malformed = await trial.gql(trial.app, ACK, i="n-1")
    assert malformed["data"]["acknowledgeNotification"]["code"] == "INVALID_ID"

    seen: dict[str, Any] = (await trial.gql(trial.coordinator, RECEIPTS, p=trial.participant))[
        "data"
    ]["node"]
    counts = seen["notificationReceipts"]
    assert (counts["sent"], counts["opened"], counts["failed"]) == (1, 1, 0)
    assert {i["channel"] for i in counts["items"]} == {"webpush"}
    assert {i["language"] for i in counts["items"]} == {"en"}
    assert seen["compliance"]["expected"] > 0  # read beside compliance
    site = (await trial.gql(trial.coordinator, SITE_RECEIPTS, s=trial.site))["data"]["node"]
    assert (site["notificationReceipts"]["sent"], site["notificationReceipts"]["opened"]) == (1, 1)
    stranger = await _stranger(trial, settings)
    hidden = await trial.gql(stranger, SITE_RECEIPTS, s=trial.site)
    assert hidden["data"]["node"] is None

    removed = await trial.gql(trial.app, REMOVE_PUSH, e=device.endpoint)
    assert removed["data"]["removePushSubscription"] == {
        "__typename": "RemovePushSubscriptionSuccess",
        "removed": True,
    }
    gone = await trial.gql(trial.app, REMOVE_PUSH, e=device.endpoint)
    assert gone["data"]["removePushSubscription"]["removed"] is False
