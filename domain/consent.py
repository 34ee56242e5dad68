"""eConsent: versioned consent documents per language, participants' consents, and the rule
that no data is collected without a current consent."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from domain import values
from domain.errors import DomainError, ErrorCode, Invalid
from domain.ids import ConsentVersionId, ParticipantId, StudyId, new_id
from domain.participants import Participant

_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-[A-Z]{2})?$")


@dataclass(frozen=True)
class ConsentText:
    language: str  # BCP 47, e.g. "en", "de", "pt-BR"
    title: str
    body: str


@dataclass(frozen=True)
class ConsentVersion:
    """One version of a study's consent document, in every language it is offered in."""

    ENTITY: ClassVar[str] = "ConsentVersion"
    PERSONAL: ClassVar[frozenset[str]] = frozenset()
    REASON_REQUIRED: ClassVar[bool] = False

    id: ConsentVersionId
    study_id: StudyId
    number: int
    texts: tuple[ConsentText, ...]
    content_hash: str
    published_at: datetime
    version: int = 1

    @classmethod
    def publish(
        cls, *, study_id: StudyId, number: int, texts: tuple[ConsentText, ...], now: datetime
    ) -> ConsentVersion:
        checked = tuple(_text(t, i) for i, t in enumerate(texts))
        if not checked:
            raise Invalid("texts", "Give the document in at least one language.")
        if len({t.language for t in checked}) != len(checked):
            raise Invalid("texts", "Each language once.")
        content = [[t.language, t.title, t.body] for t in sorted(checked, key=lambda t: t.language)]
        digest = hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()
        return cls(ConsentVersionId(new_id()), study_id, number, checked, digest, now)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(t.language for t in self.texts)

    def text(self, language: str) -> ConsentText:
        for text in self.texts:
            if text.language == language:
                return text
        raise Invalid("language", "This consent version is not available in that language.")


def _text(text: ConsentText, index: int) -> ConsentText:
    if not _LANGUAGE.match(text.language):
        raise Invalid(f"texts[{index}].language", "Use a language tag such as 'en' or 'pt-BR'.")
    body = text.body.strip()
    if not body or len(body) > 200_000:
        raise Invalid(f"texts[{index}].body", "The document text is 1-200000 characters.")
    return ConsentText(text.language, values.text(text.title, f"texts[{index}].title"), body)


@dataclass(frozen=True)
class Consent:
    """A participant's signed consent to one version, in the language they read it in."""

    ENTITY: ClassVar[str] = "Consent"
    PERSONAL: ClassVar[frozenset[str]] = frozenset({"signed_name"})
    REASON_REQUIRED: ClassVar[bool] = False

    id: uuid.UUID
    participant_id: ParticipantId
    consent_version_id: ConsentVersionId
    number: int
    language: str
    signed_name: str  # typed by the participant as their signature
    signed_at: datetime
    version: int = 1

    @classmethod
    def sign(
        cls,
        *,
        participant: Participant,
        document: ConsentVersion,
        language: str,
        name: str,
        now: datetime,
    ) -> Consent:
        document.text(language)
        return cls(
            id=new_id(),
            participant_id=participant.id,
            consent_version_id=document.id,
            number=document.number,
            language=language,
            signed_name=values.text(name, "signed_name", max_length=200),
            signed_at=now,
        )


def ensure_can_collect(
    participant: Participant, latest: ConsentVersion | None, consent: Consent | None
) -> None:
    """New data needs an active participant with a consent to the latest document version."""
    if not participant.is_active:
        raise DomainError(
            ErrorCode.PARTICIPANT_WITHDRAWN, "This participant no longer takes part in the study."
        )
    if latest is None or consent is None or consent.consent_version_id != latest.id:
        raise DomainError(
            ErrorCode.CONSENT_REQUIRED, "A signed consent to the current version is needed first."
        )
