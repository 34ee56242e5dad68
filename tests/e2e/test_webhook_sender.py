"""Signed deliveries to a real local HTTP receiver, verified with `standardwebhooks`."""

from __future__ import annotations

import ipaddress
import uuid

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from domain.webhooks import Attempt, EventType, LoggedEvent, Outcome, judge, message_id, payload
from infra.webhooks.sender import Sender, is_public
from tests.clock import PinnedClock
from tests.webhook_receiver import Received, receiving, verify

OLD = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NEW = "whsec_" + "c2VjcmV0LW5ldy1zZWNyZXQtMTIzNDU2Nzg="


def _event(clock: PinnedClock) -> LoggedEvent:
    return LoggedEvent(
        id=uuid.uuid4(),
        study_id=uuid.uuid4(),
        position=7,
        entity_type="DiaryEntry",
        entity_id=str(uuid.uuid4()),
        action="created",
        recorded_at=clock.now(),
    )


async def _send(sender: Sender, url: str, secrets: list[str], clock: PinnedClock) -> Attempt:
    event = _event(clock)
    return await sender.send(
        url=url,
        secrets=secrets,
        msg_id=message_id(uuid.uuid4(), event.id),
        at=clock.now(),
        message=payload(event, EventType.DIARY_ENTRY_CHANGED),
    )


async def test_a_delivery_is_signed_and_verified_by_the_library(clock: PinnedClock) -> None:
    async with receiving() as receiver, Sender(allow_private=True) as sender:
        attempt = await _send(sender, receiver.url, [OLD], clock)
    assert attempt.succeeded
    (got,) = receiver.received
    assert got.headers["webhook-id"].startswith("msg_")
    assert got.headers["webhook-timestamp"] == str(int(clock.now().timestamp()))
    message = verify(OLD, clock, got)
    assert message["type"] == "diary_entry.changed"
    with pytest.raises(WebhookVerificationError):
        verify(NEW, clock, got)  # another secret does not verify it


async def test_during_a_rotation_both_secrets_verify(clock: PinnedClock) -> None:
    async with receiving() as receiver, Sender(allow_private=True) as sender:
        await _send(sender, receiver.url, [OLD, NEW], clock)
    (got,) = receiver.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert verify(OLD, clock, got)["data"]["logPosition"] == 7
    assert verify(NEW, clock, got)["data"]["logPosition"] == 7


async def test_a_receiver_down_for_a_while_is_retried_until_it_answers(
    clock: PinnedClock,
) -> None:
    async with receiving() as receiver, Sender(allow_private=True) as sender:
        receiver.answers[:] = [503, 500]
        outcomes = []
        for number in (1, 2, 3):
            attempt = await _send(sender, receiver.url, [OLD], clock)
            outcome, _ = judge(attempt, number, clock.now())
            outcomes.append(outcome)
    assert outcomes == [Outcome.RETRYING, Outcome.RETRYING, Outcome.DELIVERED]
    assert [verify(OLD, clock, r)["type"] for r in receiver.received] == ["diary_entry.changed"] * 3


async def test_redirects_are_never_followed(clock: PinnedClock) -> None:
    async with receiving() as receiver, Sender(allow_private=True) as sender:
        receiver.answers[:] = [307]
        attempt = await _send(sender, receiver.url, [OLD], clock)
    assert len(receiver.received) == 1
    assert attempt.status_code == 307
    assert "redirects are not followed" in (attempt.error or "")


async def test_no_receiver_is_a_failed_try_not_a_crash(clock: PinnedClock) -> None:
    async with receiving() as receiver:
        url = receiver.url
    async with Sender(timeout=2.0, allow_private=True) as sender:
        attempt = await _send(sender, url, [OLD], clock)
    assert attempt.status_code is None
    assert (attempt.error or "").startswith("no answer")


async def test_inside_addresses_are_refused_unless_allowed(clock: PinnedClock) -> None:
    """SSRF: by default the worker never calls loopback, private or link-local addresses,
    whether the URL names them or a host name resolves to them; nothing reaches them."""
    async with receiving() as receiver:
        by_name = receiver.url.replace("127.0.0.1", "localhost")
        async with Sender() as sender:
            refused = [await _send(sender, url, [OLD], clock) for url in (receiver.url, by_name)]
        assert receiver.received == []
        for attempt in refused:
            assert attempt.status_code is None
            assert (attempt.error or "").startswith("refused: the host resolves to a private")
        async with Sender(allow_private=True) as sender:
            allowed = await _send(sender, by_name, [OLD], clock)
    assert allowed.succeeded
    (got,) = receiver.received  # sent to the checked address, with the name as Host
    assert got.headers["host"] == by_name.split("/")[2]
    assert verify(OLD, clock, got)["data"]["logPosition"] == 7


async def test_a_host_that_does_not_resolve_is_a_failed_try(clock: PinnedClock) -> None:
    async with Sender() as sender:
        attempt = await _send(sender, "https://receiver.invalid/hook", [OLD], clock)
    assert attempt.status_code is None
    assert attempt.error == "no answer (the host name does not resolve)"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud instance metadata
        ("100.64.1.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("fd00::1", False),
        ("fe80::1", False),
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
    ],
)
def test_which_addresses_count_as_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_the_library_refuses_a_tampered_body(clock: PinnedClock) -> None:
    secret = OLD
    signed = Webhook(secret).sign("msg_1", clock.now(), '{"a":1}')
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(clock.now().timestamp())),
        "webhook-signature": signed,
    }
    with pytest.raises(WebhookVerificationError):
        verify(secret, clock, Received(headers, '{"a":2}'))
