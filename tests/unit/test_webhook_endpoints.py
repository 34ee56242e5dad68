"""Webhook endpoint rules: URLs and types checked on every change, secrets in the Standard
Webhooks format, the rotation overlap, pausing, and the failure count that disables."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import pytest

from domain.errors import DomainError, ErrorCode
from domain.ids import StudyId
from domain.webhook_endpoints import (
    DisabledBecause,
    Secrets,
    WebhookEndpoint,
    check_position,
    new_secret,
)
from domain.webhooks import EventType, Outcome
from tests.clock import PinnedClock


def _endpoint(clock: PinnedClock) -> WebhookEndpoint:
    return WebhookEndpoint.new(
        study_id=StudyId(uuid.uuid4()),
        url="https://hooks.example.org/in",
        event_types=["visit.changed", "participant.changed"],
        cursor=7,
        now=clock.now(),
    )


def test_a_new_endpoint_starts_at_the_log_s_present(clock: PinnedClock) -> None:
    endpoint = _endpoint(clock)
    assert endpoint.cursor == 7
    assert endpoint.enabled
    assert endpoint.event_types == (EventType.PARTICIPANT_CHANGED, EventType.VISIT_CHANGED)
    assert endpoint.receives(EventType.VISIT_CHANGED)
    assert not endpoint.receives(EventType.EXPORT_CHANGED)


@pytest.mark.parametrize(
    ("url", "types", "code"),
    [
        ("ftp://x.example/", ["visit.changed"], ErrorCode.INVALID_WEBHOOK_URL),
        ("https://a:b@x.example/", ["visit.changed"], ErrorCode.INVALID_WEBHOOK_URL),
        ("https://x.example/", ["visit.gone"], ErrorCode.UNKNOWN_EVENT_TYPE),
    ],
)
def test_changes_are_checked_like_registrations(
    clock: PinnedClock, url: str, types: list[str], code: ErrorCode
) -> None:
    with pytest.raises(DomainError) as refused:
        _endpoint(clock).changed(url=url, event_types=types)
    assert refused.value.code is code


def test_secrets_are_standard_webhooks_secrets_and_never_repeat() -> None:
    made = {new_secret() for _ in range(50)}
    assert len(made) == 50
    for secret in made:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert "whsec_" not in repr(Secrets(current=new_secret()))


def test_both_secrets_sign_until_the_overlap_ends(clock: PinnedClock) -> None:
    rotated = _endpoint(clock).rotated(clock.now(), timedelta(minutes=30))
    secrets = Secrets(current="old").rotated("new")
    assert secrets.signing(rotated, clock.now()) == ["new", "old"]
    clock.advance(minutes=30)
    assert secrets.signing(rotated, clock.now()) == ["new"]


def test_an_overlap_longer_than_a_week_is_refused(clock: PinnedClock) -> None:
    with pytest.raises(DomainError) as refused:
        _endpoint(clock).rotated(clock.now(), timedelta(days=8))
    assert refused.value.field == "overlapMinutes"


def test_giving_up_counts_and_a_delivery_resets_the_count(clock: PinnedClock) -> None:
    endpoint = _endpoint(clock).judged(Outcome.GAVE_UP).judged(Outcome.GAVE_UP)
    assert endpoint.failed_in_a_row == 2
    assert endpoint.judged(Outcome.RETRYING).failed_in_a_row == 2
    assert endpoint.judged(Outcome.DELIVERED).failed_in_a_row == 0


def test_a_disabled_endpoint_receives_nothing_until_enabled(clock: PinnedClock) -> None:
    endpoint = _endpoint(clock).judged(Outcome.GAVE_UP)
    disabled = endpoint.disable(DisabledBecause.FAILING, clock.now())
    assert not disabled.receives(EventType.VISIT_CHANGED)
    assert disabled.disabled_at == clock.now()
    assert disabled.disable(DisabledBecause.ASKED, clock.now()) is disabled  # stays "failing"
    enabled = disabled.enable()
    assert enabled.receives(EventType.VISIT_CHANGED)
    assert (enabled.failed_in_a_row, enabled.disabled_because) == (0, None)


def test_log_positions_start_at_one() -> None:
    assert check_position(1) == 1
    with pytest.raises(DomainError):
        check_position(0)
