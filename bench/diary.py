"""Diary submissions per second and their latency under concurrent participants, over HTTP.

    TEST_DATABASE_URL=postgresql+asyncpg://... python -m bench.diary [--clients 32]
        [--submissions 40] [--every 30]

The real app (`create_app`) serves under uvicorn in this process on 127.0.0.1. Each of
--clients clients is its own participant, enrolled through the API (registered, paired with
the app by enrolment code, consenting, enrolled in an arm) with its own app token and its own
HTTP connection; each sends --submissions `submitDiaryEntries` calls of one entry, one after
another, all clients at once. Latency is measured per request with time.perf_counter.

Only one ACCEPTED entry is allowed per (schedule, occurrence), so the diary is due every
--every minutes of the day, with a 24-hour window (ACCEPT_LATE, 7 days' grace), and every
participant lives in the UTC offset (Etc/GMT zone) where it is now 23:xx: all of the day's
occurrences are already due, and each entry answers a distinct one. Every entry is meant to
come back ACCEPTED; the outcome counts are printed and anything else fails the run.
Submissions and the home screen read the participant's stored plan (planned once, on
enrolment or on the first read), so their cost no longer grows with the days planned.

The home screen, in the same run: each client asks `diaryDue` for the next two days
(about 48 occurrences a day at the default --every 30), the same number of times.

Baseline, in the same run, with the same clients, tokens and connections: the smallest
authenticated GraphQL query, `{ viewer { kind } }`, the same number of times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from api.app import create_app
from bench.common import NO_RATE_LIMITS, machine, percentile, run, scratch_settings, serving
from bench.world import (
    DUE,
    FAILED,
    BenchError,
    Participant,
    create_trial,
    due_now,
    enrol,
    pain_diary,
)

SUBMIT_DIARY = (
    """mutation($e: [DiaryEntryInput!]!) {
  submitDiaryEntries(input: {entries: $e}) {
    __typename ... on SubmitDiaryEntriesSuccess { results { outcome code } } ...Failed
  }
}"""
    + FAILED
)
VIEWER = "{ viewer { kind } }"
WINDOW_MINUTES = 24 * 60
GRACE_MINUTES = 7 * 24 * 60


def late_evening_zone(now: datetime) -> str:
    """An IANA zone (whole-hour offset, UTC-12 to UTC+14) where the local time is 23:xx."""
    offset = (23 - now.astimezone(UTC).hour) % 24
    if offset > 14:
        offset -= 24
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # POSIX signs: inverted


def day_times(every: int) -> list[str]:
    return [f"{m // 60:02d}:{m % 60:02d}" for m in range(0, 24 * 60, every)]


def entry_body(due: dict[str, Any], completed_at: datetime) -> bytes:
    questionnaire = due["questionnaire"]
    entry = {
        "clientId": str(uuid.uuid4()),
        "scheduleId": due["scheduleId"],
        "occurrenceKey": due["occurrenceKey"],
        "questionnaireCode": questionnaire["code"],
        "questionnaireVersion": questionnaire["version"],
        "contentHash": questionnaire["contentHash"],
        "answers": {"PAIN": 3, "NOTE": "Knee hurts"},
        "completedAt": completed_at.isoformat(),
    }
    return json.dumps({"query": SUBMIT_DIARY, "variables": {"e": [entry]}}).encode()


@dataclass
class Client:
    """One participant's app: its token, its own connection, what it will send."""

    participant: Participant
    http: httpx.AsyncClient
    warm_up: bytes
    entries: list[bytes]

    async def post(self, body: bytes) -> tuple[float, httpx.Response]:
        headers = {
            "authorization": f"Bearer {self.participant.app}",
            "content-type": "application/json",
        }
        started = time.perf_counter()
        response = await self.http.post("/graphql", content=body, headers=headers)
        return time.perf_counter() - started, response


@dataclass(frozen=True)
class Load:
    seconds: float
    cpu: float  # seconds of CPU this process (client and server) used meanwhile
    latencies: list[float]
    responses: list[httpx.Response]

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def line(self, label: str, unit: str) -> str:
        p50, p99 = percentile(self.latencies, 0.5), percentile(self.latencies, 0.99)
        return (
            f"{label}: {len(self.latencies):,} in {self.seconds:.2f} s = {self.rate:,.0f} {unit}/s;"
            f" latency p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms;"
            f" this process busy {self.cpu / self.seconds:.0%} of a core"
        )


async def load(clients: Sequence[Client], bodies: Sequence[Sequence[bytes]]) -> Load:
    """Every client sends its bodies one after another, all clients at once."""
    latencies: list[float] = []
    responses: list[httpx.Response] = []

    async def one(client: Client, mine: Sequence[bytes]) -> None:
        for body in mine:
            took, response = await client.post(body)
            latencies.append(took)
            responses.append(response)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(c, b) for c, b in zip(clients, bodies, strict=True)))
    return Load(time.perf_counter() - started, time.process_time() - cpu, latencies, responses)


def payload(response: httpx.Response, field: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise BenchError(f"{field}: HTTP {response.status_code} {response.text[:300]}")
    body = response.json()
    if body.get("errors") or not body.get("data"):
        raise BenchError(f"{field}: {body}")
    found: dict[str, Any] = body["data"][field]
    return found


def outcomes(responses: Sequence[httpx.Response]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for response in responses:
        result = payload(response, "submitDiaryEntries")
        if result["__typename"] != "SubmitDiaryEntriesSuccess":
            counts[f"MutationError {result.get('code')}"] += 1
            continue
        for item in result["results"]:
            counts[item["outcome"] + (f" {item['code']}" if item["code"] else "")] += 1
    return counts


def home_body(participant: Participant, now: datetime) -> bytes:
    window = {
        "s": (now - timedelta(days=1)).isoformat(),
        "e": (now + timedelta(days=1)).isoformat(),
    }
    return json.dumps({"query": DUE, "variables": {"p": participant.id, **window}}).encode()


def check_home(responses: Sequence[httpx.Response]) -> int:
    """Every home screen lists the same occurrences (about 48 a day at --every 30)."""
    sizes = Counter(len(payload(r, "node")["diaryDue"]) for r in responses)
    if len(sizes) != 1 or 0 in sizes:
        raise BenchError(f"diaryDue: {dict(sizes)} occurrences")
    (size,) = sizes
    return size


def check_viewer(responses: Sequence[httpx.Response]) -> None:
    kinds = Counter(payload(r, "viewer")["kind"] for r in responses)
    if set(kinds) != {"PARTICIPANT"}:
        raise BenchError(f"viewer: {kinds}")


async def main(clients: int, submissions: int, every: int) -> None:
    host = machine()
    overrides = NO_RATE_LIMITS | {"access_token_minutes": 60}
    async with (
        scratch_settings(pool_size=clients + 8, **overrides) as settings,
        serving(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=120) as http,
    ):
        trial = await create_trial(http, settings)
        await pain_diary(
            trial,
            day_times(every),
            window_minutes=WINDOW_MINUTES,
            late_grace_minutes=GRACE_MINUTES,
        )
        zone = late_evening_zone(datetime.now(UTC))
        people = [await enrol(trial, f"S-{n:03d}", zone) for n in range(clients)]
        completed_at = datetime.now(UTC)
        team: list[Client] = []
        for participant in people:
            due = await due_now(trial, participant)
            if len(due) < submissions + 1:
                raise BenchError(
                    f"{len(due)} occurrences due in {zone}, need {submissions + 1}: "
                    f"lower --submissions or --every"
                )
            bodies = [entry_body(d, completed_at) for d in due[: submissions + 1]]
            own = httpx.AsyncClient(base_url=url, timeout=120)
            team.append(Client(participant, own, bodies[0], bodies[1:]))
        try:
            await run_load(team, submissions, every, zone, host)
        finally:
            for client in team:
                await client.http.aclose()


async def run_load(team: list[Client], submissions: int, every: int, zone: str, host: str) -> None:
    viewer = json.dumps({"query": VIEWER}).encode()
    # Warm up each connection and both paths (one entry each, answering its own occurrence).
    check_viewer((await load(team, [[viewer] for _ in team])).responses)
    warm = outcomes((await load(team, [[c.warm_up] for c in team])).responses)

    home = [home_body(c.participant, datetime.now(UTC)) for c in team]
    check_home((await load(team, [[h] for h in home])).responses)

    diary = await load(team, [c.entries for c in team])
    screen = await load(team, [[h] * submissions for h in home])
    listed = check_home(screen.responses)
    baseline = await load(team, [[viewer] * submissions for _ in team])
    check_viewer(baseline.responses)
    counts = outcomes(diary.responses)

    print(
        f"Diary submissions: {len(team)} concurrent clients (one enrolled participant, app token "
        f"and connection each), {submissions} calls each of one entry; diary due every "
        f"{every} min, participants in {zone}"
    )
    print(f"machine at the start: {host}")
    print(diary.line("submitDiaryEntries", "submissions"))
    print("outcomes: " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))
    print(screen.line(f"home screen diaryDue (2 days, {listed} each)", "requests"))
    print(baseline.line("baseline { viewer { kind } }", "requests"))
    for label, measured in (("submissions", diary), ("home screens", screen)):
        p50 = percentile(measured.latencies, 0.5) / percentile(baseline.latencies, 0.5)
        p99 = percentile(measured.latencies, 0.99) / percentile(baseline.latencies, 0.99)
        print(
            f"{label}/s = {measured.rate / baseline.rate:.2f}x the baseline's requests/s; "
            f"latency {p50:.1f}x (p50), {p99:.1f}x (p99)"
        )
    if set(counts) != {"ACCEPTED"} or set(warm) != {"ACCEPTED"}:
        raise BenchError(f"not every entry was ACCEPTED: {dict(counts)} (warm-up {dict(warm)})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32, help="participants at once")
    parser.add_argument("--submissions", type=int, default=40, help="calls per client")
    parser.add_argument("--every", type=int, default=30, help="minutes between diary times")
    args = parser.parse_args()
    run(main(args.clients, args.submissions, args.every))
