"""Webhook rules: URLs, event types, stable message ids, backoff, giving up, payloads."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from domain.errors import DomainError, ErrorCode
from domain.webhooks import (
    DELIVERY_RETRIES,
    Attempt,
    EventType,
    LoggedEvent,
    Outcome,
    check_url,
    event_type_of,
    judge,
    message_id,
    parse_event_types,
    payload,
    should_disable,
)
from tests.clock import PinnedClock


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/hook",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "example.org/hook",
        "https://",
        "https://user:pw@example.org/hook",
        "https://example.org/ho ok",
        "https://example.org/" + "a" * 3000,
    ],
)
def test_urls_that_are_not_http_are_refused_with_a_stable_code(url: str) -> None:
    with pytest.raises(DomainError) as refused:
        check_url(url)
    assert refused.value.code is ErrorCode.INVALID_WEBHOOK_URL
    assert refused.value.field == "url"


@pytest.mark.parametrize("url", ["https://sponsor.example/hook", "http://127.0.0.1:8080/h?x=1"])
def test_http_and_https_urls_are_accepted(url: str) -> None:
    assert check_url(url) == url


def test_event_types_must_be_known_and_present() -> None:
    assert parse_event_types(["visit.changed"]) == {EventType.VISIT_CHANGED}
    for raw in ([], ["visit.changed", "everything"]):
        with pytest.raises(DomainError) as refused:
            parse_event_types(raw)
        assert refused.value.code is ErrorCode.UNKNOWN_EVENT_TYPE


def test_audit_entities_map_to_event_types() -> None:
    assert event_type_of("DiaryEntry") is EventType.DIARY_ENTRY_CHANGED
    assert event_type_of("StaffUser") is None  # staff and security events never leave


def test_message_ids_are_stable_per_event_and_endpoint() -> None:
    endpoint, other, event = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert message_id(endpoint, event) == message_id(endpoint, event)
    assert message_id(endpoint, event) != message_id(other, event)
    assert message_id(endpoint, event).startswith("msg_")


def test_failed_tries_back_off_exponentially_up_to_a_cap_then_give_up() -> None:
    now = PinnedClock().now()
    failed = Attempt(status_code=503, latency_ms=3.0, error="HTTP 503")
    delays = []
    for number in range(1, DELIVERY_RETRIES.attempts):
        outcome, next_try = judge(failed, number, now)
        assert outcome is Outcome.RETRYING
        assert next_try is not None
        delays.append(next_try - now)
    assert delays[:3] == [timedelta(seconds=10), timedelta(seconds=20), timedelta(seconds=40)]
    assert max(delays) <= DELIVERY_RETRIES.max_delay
    assert delays == sorted(delays)
    assert judge(failed, DELIVERY_RETRIES.attempts, now) == (Outcome.GAVE_UP, None)


def test_a_2xx_is_delivered_and_a_redirect_or_no_answer_is_not() -> None:
    now = PinnedClock().now()
    assert judge(Attempt(204, 1.0, None), 1, now) == (Outcome.DELIVERED, None)
    assert judge(Attempt(307, 1.0, "redirect"), 1, now)[0] is Outcome.RETRYING
    assert judge(Attempt(None, 1.0, "timed out"), 1, now)[0] is Outcome.RETRYING


def test_endpoints_that_keep_failing_are_disabled() -> None:
    assert not should_disable(2)
    assert should_disable(3)


def test_payloads_carry_ids_and_positions_only() -> None:
    event = LoggedEvent(
        id=uuid.uuid4(),
        study_id=uuid.uuid4(),
        position=42,
        entity_type="Visit",
        entity_id=str(uuid.uuid4()),
        action="updated",
        recorded_at=PinnedClock().now(),
    )
    body = payload(event, EventType.VISIT_CHANGED)
    assert body["type"] == "visit.changed"
    assert body["timestamp"] == "2026-06-10T09:30:00+00:00"
    data = body["data"]
    assert isinstance(data, dict)
    assert set(data) == {
        "eventId",
        "studyId",
        "logPosition",
        "entityType",
        "entityId",
        "action",
        "subjectId",
    }
    assert data["logPosition"] == 42


def test_a_participant_appears_only_by_the_subject_id_exports_use() -> None:
    internal = uuid.uuid4()
    event = LoggedEvent(
        id=uuid.uuid4(),
        study_id=uuid.uuid4(),
        position=3,
        entity_type="Participant",
        entity_id=str(internal),
        action="updated",
        recorded_at=PinnedClock().now(),
        subject_id="K7Q2-9XHD",
    )
    data = payload(event, EventType.PARTICIPANT_CHANGED)["data"]
    assert isinstance(data, dict)
    assert data["entityId"] == data["subjectId"] == "K7Q2-9XHD"
    assert str(internal) not in repr(data)
