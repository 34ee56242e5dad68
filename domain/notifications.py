"""Notifications to participants: one channel interface, receipts, versioned templates.

A message never carries personal data or answers: only a template's text in the
participant's language ("Your diary is ready") and an opaque notification id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
