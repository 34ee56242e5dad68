"""The intake rules as pure functions: the consent in force at a collection instant, device
clocks, whose reading a reading is, zone history and dropped consent languages."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.consent import (
    Consent,
    ConsentHistory,
    ConsentText,
    ConsentVersion,
    Standing,
    Withdrawal,
    dropped_languages,
)
from domain.device_time import collected_at
from domain.devices import Assignment, Device, DeviceCode, attribute
from domain.errors import DomainError, ErrorCode
from domain.participants import Participant, ParticipantStatus
from domain.reading_parse import parse_reading
from domain.readings import Reading, ReadingKind
from domain.schedules import ZoneChange, zone_at, zone_periods
from tests.factories import make_participant, make_site

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _version(person: Participant, number: int, at: datetime, *languages: str) -> ConsentVersion:
    texts = tuple(ConsentText(lang, "Consent", "You may stop.") for lang in languages or ("en",))
    return ConsentVersion.publish(study_id=person.study_id, number=number, texts=texts, now=at)


def _signed(person: Participant, version: ConsentVersion, at: datetime) -> Consent:
    return Consent.sign(participant=person, document=version, language="en", name="P", now=at)


def _history(
    person: Participant, *, withdrawal: Withdrawal | None = None, re_signed: bool = False
) -> ConsentHistory:
    """v1 published at T0 and signed an hour later; v2 published at T0 + 10 h (and signed at
    T0 + 20 h when `re_signed`)."""
    v1, v2 = _version(person, 1, T0), _version(person, 2, T0 + 10 * HOUR)
    consents = [_signed(person, v1, T0 + HOUR)]
    if re_signed:
        consents.append(_signed(person, v2, T0 + 20 * HOUR))
    return ConsentHistory(person, (v2, v1), tuple(consents), withdrawal)


def test_before_the_first_signature_nothing_is_collected() -> None:
    judged = _history(make_participant()).judge(T0 + timedelta(minutes=30))
    assert (judged.standing, judged.refusal) == (Standing.NO_CONSENT, ErrorCode.CONSENT_REQUIRED)


def test_collected_under_the_version_then_current_is_kept_and_flagged_once_superseded() -> None:
    judged = _history(make_participant()).judge(T0 + 5 * HOUR)
    assert judged.standing is Standing.CURRENT
    assert (judged.refusal, judged.quarantine) == (None, None)
    assert judged.superseded  # v1 is no longer the latest
    assert judged.flag == "RECONSENT_REQUIRED"


def test_collected_after_a_new_version_before_signing_it_is_quarantined() -> None:
    judged = _history(make_participant()).judge(T0 + 12 * HOUR)
    assert (judged.standing, judged.quarantine) == (Standing.SUPERSEDED, "CONSENT_SUPERSEDED")
    assert judged.refusal is None


def test_after_re_consent_old_data_is_still_marked_but_no_longer_asks_for_it() -> None:
    history = _history(make_participant(), re_signed=True)
    earlier, later = history.judge(T0 + 5 * HOUR), history.judge(T0 + 21 * HOUR)
    assert (earlier.standing, earlier.superseded, earlier.flag) == (Standing.CURRENT, True, None)
    assert (later.standing, later.superseded) == (Standing.CURRENT, False)


def _withdrawn(
    at: datetime, status: ParticipantStatus = ParticipantStatus.WITHDRAWN
) -> Participant:
    return dataclasses.replace(make_participant(), status=status, status_changed_at=at)


def test_data_collected_before_withdrawal_is_kept_unless_the_withdrawal_covers_it() -> None:
    person = _withdrawn(T0 + 8 * HOUR)
    kept = _history(person, withdrawal=Withdrawal(person.id, T0 + 8 * HOUR, False))
    assert kept.judge(T0 + 7 * HOUR).standing is Standing.CURRENT
    assert kept.judge(T0 + 8 * HOUR).refusal is ErrorCode.PARTICIPANT_WITHDRAWN  # from then on
    covered = _history(person, withdrawal=Withdrawal(person.id, T0 + 8 * HOUR, True))
    assert covered.judge(T0 + 7 * HOUR).refusal is ErrorCode.PARTICIPANT_WITHDRAWN
    # Withdrawn before this choice existed (no record): kept, the default.
    assert _history(person).judge(T0 + 7 * HOUR).standing is Standing.CURRENT
    done = _withdrawn(T0 + 8 * HOUR, ParticipantStatus.COMPLETED)
    assert _history(done).judge(T0 + 7 * HOUR).standing is Standing.CURRENT


def test_a_device_clock_within_five_minutes_is_taken_as_it_is() -> None:
    sent = T0 + timedelta(minutes=4)
    assert collected_at(T0 - HOUR, sent, T0) == T0 - HOUR
    assert collected_at(T0 - HOUR, None, T0) == T0 - HOUR


def test_a_clock_known_to_be_off_is_corrected_and_nothing_is_collected_after_receipt() -> None:
    behind = T0 - timedelta(days=2)  # the phone says it is two days earlier than it is
    assert collected_at(behind - HOUR, behind, T0) == T0 - HOUR
    ahead = T0 + timedelta(days=365)
    assert collected_at(ahead - HOUR, ahead, T0) == T0 - HOUR
    assert collected_at(T0 + timedelta(minutes=9), None, T0) == T0  # a little ahead: capped


def _device(person: Participant, *kinds: ReadingKind) -> Device:
    return Device.register(
        study_id=person.study_id,
        site_id=person.site_id,
        kinds=kinds or (ReadingKind.HEART_RATE,),
        model="Watch",
        serial="W-1",
        now=T0 - timedelta(days=1),
    )


def _reading(at: datetime, kind: ReadingKind = ReadingKind.HEART_RATE) -> Reading:
    bodies = {
        ReadingKind.HEART_RATE: {"heart_rate": {"value": 70, "unit": "/min"}},
        ReadingKind.BODY_WEIGHT: {"body_weight": {"value": 70, "unit": "kg"}},
    }
    body = {**bodies[kind], "effective_time_frame": {"date_time": at.isoformat()}}
    return parse_reading({"kind": kind.value, "sourceId": "r", "body": body}, now=T0 + HOUR)


def test_a_reading_belongs_to_whoever_held_the_device_then() -> None:
    site = make_site()
    me, other = make_participant(site), make_participant(site)
    watch = _device(me)
    periods = [
        Assignment(watch, me.id, T0 - 5 * HOUR, T0 - 3 * HOUR),
        Assignment(watch, other.id, T0 - 3 * HOUR, T0 - 2 * HOUR),
        Assignment(watch, me.id, T0 - HOUR),
    ]
    assert attribute(_reading(T0 - 4 * HOUR), me, watch, periods) is None
    assert attribute(_reading(T0 - 150 * timedelta(minutes=1)), me, watch, periods) is (
        DeviceCode.DEVICE_NOT_ASSIGNED
    )
    # Nobody held it: before the first assignment, and in the gap between two.
    for moment in (T0 - 6 * HOUR, T0 - 90 * timedelta(minutes=1)):
        assert attribute(_reading(moment), me, watch, periods) is DeviceCode.OUTSIDE_ASSIGNMENT
    weight = _reading(T0, ReadingKind.BODY_WEIGHT)
    assert attribute(weight, me, watch, periods) is DeviceCode.KIND_NOT_SUPPORTED


def test_a_device_of_another_site_or_none_at_all_is_unknown() -> None:
    me = make_participant()
    elsewhere = dataclasses.replace(_device(me), site_id=make_site().id)
    assert attribute(_reading(T0), me, None, []) is DeviceCode.UNKNOWN_DEVICE
    periods = [Assignment(elsewhere, me.id, T0 - HOUR)]
    assert attribute(_reading(T0), me, elsewhere, periods) is DeviceCode.UNKNOWN_DEVICE


def test_the_zone_at_an_instant_follows_the_history() -> None:
    history = [
        ZoneChange(T0 - timedelta(days=10), "Europe/Berlin"),
        ZoneChange(T0, "Asia/Tokyo"),
        ZoneChange(T0, "America/New_York"),  # two reports at one instant: the later wins
        ZoneChange(T0 + HOUR, "America/New_York"),  # not a change at all
    ]
    assert zone_at(history, T0 - timedelta(days=30)) == "Europe/Berlin"  # before the first
    assert zone_at(history, T0 - timedelta(seconds=1)) == "Europe/Berlin"
    assert zone_at(history, T0) == "America/New_York"
    periods = zone_periods(history)
    assert [(p.since, p.until, p.timezone) for p in periods] == [
        (None, T0, "Europe/Berlin"),
        (T0, None, "America/New_York"),
    ]
    with pytest.raises(DomainError) as raised:
        zone_at(history, datetime(2026, 5, 4, 8, 0))  # naive: refused
    assert raised.value.field == "instant"


def test_languages_dropped_by_a_new_version() -> None:
    person = make_participant()
    assert dropped_languages(_version(person, 2, T0, "en"), ["de", "en"]) == ("de",)
    assert dropped_languages(_version(person, 2, T0, "en", "de"), ["de", "en"]) == ()


def test_a_consent_history_uses_signing_times_not_list_order() -> None:
    person = make_participant()
    v1 = _version(person, 1, T0)
    late = _signed(person, v1, T0 + 2 * HOUR)
    early = dataclasses.replace(late, id=uuid.uuid4(), signed_at=T0 + HOUR)
    history = ConsentHistory(person, (v1,), (late, early))
    assert history.judge(T0 + 90 * timedelta(minutes=1)).standing is Standing.CURRENT
    offset = T0.astimezone(timezone(timedelta(hours=9))) + HOUR  # an instant in Tokyo time
    assert history.judge(offset).standing is Standing.CURRENT
