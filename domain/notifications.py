"""Notifications to participants: one channel interface, receipts, versioned templates.

A message never carries personal data or answers: only a template's text in the
participant's language ("Your diary is ready") and an opaque notification id.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from domain.errors import Invalid


class State(StrEnum):
    QUEUED = "QUEUED"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    OPENED = "OPENED"
    FAILED = "FAILED"


# Which state may follow which: receipts only move forward; a failure is final.
_NEXT: Mapping[State, frozenset[State]] = {
    State.QUEUED: frozenset({State.SENT, State.FAILED}),
    State.SENT: frozenset({State.DELIVERED, State.OPENED, State.FAILED}),
    State.DELIVERED: frozenset({State.OPENED}),
    State.OPENED: frozenset(),
    State.FAILED: frozenset(),
}


def advance(current: State, new: State) -> State:
    """The state after a receipt; repeating the current state is a no-op, going back refused."""
    if new is current or new in _NEXT[current]:
        return new
    raise Invalid("state", f"A {current.value.lower()} notification cannot become {new.value}.")


@dataclass(frozen=True)
class Message:
    """What a channel sends: no personal data, no answers."""

    notification_id: str
    title: str
    body: str
    language: str


class Expired(Exception):
    """The channel's address is gone for good (Web Push 404/410): remove the subscription."""


class Channel(Protocol):
    """One way to reach a participant (Web Push, e-mail; FCM/APNs later)."""

    name: str

    async def send(self, address: str, message: Message) -> None:
        """Hand the message over; raise `Expired` if the address is gone, any other
        exception for a failure worth a retry."""
        ...


@dataclass(frozen=True)
class Template:
    """A versioned, translatable text; `texts` maps a language tag to (title, body)."""

    code: str
    version: int
    texts: Mapping[str, tuple[str, str]]
    fallback: str = "en"

    def __post_init__(self) -> None:
        if self.version < 1:
            raise Invalid("version", "Template versions start at 1.")
        if self.fallback not in self.texts:
            raise Invalid("texts", "The fallback language needs a text.")
        for title, body in self.texts.values():
            if "{" in title or "{" in body:
                raise Invalid("texts", "Templates take no placeholders: no personal data.")

    def render(self, language: str, notification_id: str) -> Message:
        """The text in `language`, else its primary subtag ("de" for "de-AT"), else fallback."""
        for tag in (language, language.split("-", maxsplit=1)[0], self.fallback):
            if tag in self.texts:
                title, body = self.texts[tag]
                return Message(notification_id, title, body, tag)
        raise AssertionError("unreachable: fallback checked at construction")


DIARY_DUE = Template(
    "diary_due",
    1,
    {
        "en": ("Hearth", "Your diary is ready."),
        "de": ("Hearth", "Ihr Tagebuch ist bereit."),
        "fr": ("Hearth", "Votre journal est prêt."),
        "es": ("Hearth", "Su diario está listo."),
    },
)
DIARY_CLOSING = Template(
    "diary_closing",
    1,
    {
        "en": ("Hearth", "Your diary closes soon."),
        "de": ("Hearth", "Ihr Tagebuch schließt bald."),
        "fr": ("Hearth", "Votre journal ferme bientôt."),
        "es": ("Hearth", "Su diario cierra pronto."),
    },
)
DIARY_MISSED = Template(
    "diary_missed",
    1,
    {
        "en": ("Hearth", "You missed a diary. Open the app to see what is due."),
        "de": ("Hearth", "Sie haben ein Tagebuch verpasst. Öffnen Sie die App."),
        "fr": ("Hearth", "Vous avez manqué un journal. Ouvrez l'application."),
        "es": ("Hearth", "Ha olvidado un diario. Abra la aplicación."),
    },
)
VISIT_DUE = Template(
    "visit_due",
    1,
    {
        "en": ("Hearth", "You have a study visit coming up."),
        "de": ("Hearth", "Sie haben bald einen Studientermin."),
        "fr": ("Hearth", "Vous avez bientôt une visite d'étude."),
        "es": ("Hearth", "Tiene pronto una visita del estudio."),
    },
)


@dataclass(frozen=True)
class Notification:
    """One reminder to one participant: claimed once per send key, then delivered.

    `send_key` is "<schedule>/<occurrence>/<rule>": the unique claim that makes a reminder go
    out once however many workers race for it. `reason` says why a delivery failed, in
    the system's words (never the address, never personal data).
    """

    id: uuid.UUID
    participant_id: uuid.UUID
    study_id: uuid.UUID
    site_id: uuid.UUID
    send_key: str
    template: str
    template_version: int
    language: str
    planned_at: datetime  # the reminder instant (UTC)
    created_at: datetime
    state: State = State.QUEUED
    reason: str | None = None
    attempts: int = 0
    channel: str | None = None
    next_attempt_at: datetime | None = None  # a QUEUED notification is sent from then on
    sent_at: datetime | None = None
    opened_at: datetime | None = None

    def moved(self, state: State, at: datetime, *, reason: str | None = None) -> Notification:
        """The receipt after a state change (forward only, see `advance`)."""
        new = advance(self.state, state)
        return replace(
            self,
            state=new,
            reason=reason if new is State.FAILED else self.reason,
            next_attempt_at=None if new is not State.QUEUED else self.next_attempt_at,
            sent_at=at if new is State.SENT and self.sent_at is None else self.sent_at,
            opened_at=at if new is State.OPENED and self.opened_at is None else self.opened_at,
        )


@dataclass(frozen=True)
class PushSubscription:
    """A Web Push subscription of a participant's app (RFC 8030): the endpoint and the
    keys the payload is encrypted to (RFC 8291). Stored sealed: an endpoint is an address."""

    id: uuid.UUID
    participant_id: uuid.UUID
    endpoint: str
    p256dh: str
    auth: str
    created_at: datetime

    def __post_init__(self) -> None:
        if not self.endpoint.startswith(("https://", "http://")) or len(self.endpoint) > 2048:
            raise Invalid("endpoint", "Give the push service's https URL.")
        for name, value, size in (("p256dh", self.p256dh, 65), ("auth", self.auth, 16)):
            try:
                raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            except (ValueError, binascii.Error):
                raise Invalid(f"keys.{name}", "Use base64url as the browser gives it.") from None
            if len(raw) != size:
                raise Invalid(f"keys.{name}", f"The key must be {size} bytes.")

    def address(self) -> str:
        """The subscription as a browser's `PushSubscription.toJSON()` gives it."""
        keys = {"p256dh": self.p256dh, "auth": self.auth}
        return json.dumps({"endpoint": self.endpoint, "keys": keys})
