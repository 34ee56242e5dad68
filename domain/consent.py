"""eConsent: versioned consent documents per language, participants' consents, and the rule
that no data is collected without a current consent."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
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


@dataclass(frozen=True)
class Withdrawal:
    """A participant's withdrawal of consent, and whether it covers data already collected.

    By default what the app collected before the withdrawal instant is still received and
    kept (it arrives later when the phone was offline). `covers_collected_data` records that
    the participant also withdrew the use of such data: it is refused when it arrives. What
    the server already holds stays, as the rules on retaining trial records require.
    """

    ENTITY: ClassVar[str] = "Withdrawal"
    PERSONAL: ClassVar[frozenset[str]] = frozenset()
    REASON_REQUIRED: ClassVar[bool] = True

    participant_id: ParticipantId
    withdrawn_at: datetime
    covers_collected_data: bool
    version: int = 1

    @property
    def id(self) -> uuid.UUID:
        return self.participant_id


class Standing(StrEnum):
    """What the consent and participation in force at a collection instant allow."""

    CURRENT = "CURRENT"  # a consent to the version current then: kept
    SUPERSEDED = "SUPERSEDED"  # a consent to a version already replaced then: kept for review
    NO_CONSENT = "NO_CONSENT"  # no consent signed yet: refused
    ENDED = "ENDED"  # after withdrawal or completion (or a withdrawal covering it): refused


# Per-item codes of the consent rules (diary entries and readings share them).
CONSENT_SUPERSEDED = "CONSENT_SUPERSEDED"  # quarantined: collected before signing the new version
RECONSENT_REQUIRED = "RECONSENT_REQUIRED"  # accepted: the participant must sign the new version


@dataclass(frozen=True)
class Judgement:
    standing: Standing
    superseded: bool  # collected under a version that is no longer the latest: flagged
    reconsent_required: bool  # the participant has not signed the latest version yet

    @property
    def refusal(self) -> ErrorCode | None:
        if self.standing is Standing.ENDED:
            return ErrorCode.PARTICIPANT_WITHDRAWN
        if self.standing is Standing.NO_CONSENT:
            return ErrorCode.CONSENT_REQUIRED
        return None

    @property
    def quarantine(self) -> str | None:
        return CONSENT_SUPERSEDED if self.standing is Standing.SUPERSEDED else None

    @property
    def flag(self) -> str | None:
        """The code an accepted item carries: re-consent is due."""
        return RECONSENT_REQUIRED if self.reconsent_required else None


@dataclass(frozen=True)
class ConsentHistory:
    """A participant's consents and their study's versions: each item the app sends is judged
    by the consent in force when it was collected, not when it arrives."""

    participant: Participant
    versions: tuple[ConsentVersion, ...]  # the study's, any order
    consents: tuple[Consent, ...]  # the participant's, any order
    withdrawal: Withdrawal | None = None

    def judge(self, collected_at: datetime) -> Judgement:
        signed = self._signed_by(collected_at)
        latest = self._latest()
        return Judgement(
            standing=self._standing(collected_at, signed),
            superseded=signed is not None and latest is not None and signed.number < latest.number,
            reconsent_required=self.reconsent_required,
        )

    @property
    def reconsent_required(self) -> bool:
        latest, signed = self._latest(), self._signed_by(None)
        return latest is not None and signed is not None and signed.number < latest.number

    def _standing(self, at: datetime, signed: Consent | None) -> Standing:
        if self._ended(at):
            return Standing.ENDED
        if signed is None:
            return Standing.NO_CONSENT
        current = self._latest(at)
        if current is not None and signed.number < current.number:
            return Standing.SUPERSEDED
        return Standing.CURRENT

    def _ended(self, at: datetime) -> bool:
        if self.participant.is_active:
            return False
        covered = self.withdrawal is not None and self.withdrawal.covers_collected_data
        return covered or at >= self.participant.status_changed_at

    def _signed_by(self, at: datetime | None) -> Consent | None:
        signed = [c for c in self.consents if at is None or c.signed_at <= at]
        return max(signed, key=lambda c: (c.signed_at, c.number), default=None)

    def _latest(self, at: datetime | None = None) -> ConsentVersion | None:
        published = [v for v in self.versions if at is None or v.published_at <= at]
        return max(published, key=lambda v: v.number, default=None)


def dropped_languages(document: ConsentVersion, signed: Iterable[str]) -> tuple[str, ...]:
    """Languages participants signed in that a new version no longer offers."""
    return tuple(sorted(set(signed) - set(document.languages)))


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
