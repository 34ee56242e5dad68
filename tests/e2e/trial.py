"""GraphQL documents and payloads the end-to-end tests share: a diary, a device, readings."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from api.relay import from_global_id
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import SiteId, StudyId
from tests.clock import CLOCK

CREATE_STUDY = 'mutation($c: String!) { createStudy(input: {code: $c, title: "M"}) { __typename ... on CreateStudySuccess { study { id } } ... on MutationError { code message field } } }'
CREATE_SITE = 'mutation($s: ID!, $c: String!) { createSite(input: {studyId: $s, code: $c, name: "S", country: "DE", timezone: "Europe/Berlin"}) { __typename ... on CreateSiteSuccess { site { id } } ... on MutationError { code message field } } }'
REGISTER = "mutation($s: ID!, $n: String!) { registerParticipant(input: {siteId: $s, screeningNumber: $n}) { __typename ... on RegisterParticipantSuccess { participant { id } } ... on MutationError { code } } }"
ISSUE_CODE = "mutation($p: ID!) { issueEnrolmentCode(input: {participantId: $p}) { __typename ... on IssueEnrolmentCodeSuccess { enrolment { code } } ... on MutationError { code } } }"
ENROL = 'mutation($c: String!) { enrolParticipant(input: {code: $c, installation: {platform: ANDROID, model: "P", osVersion: "16", appVersion: "1"}}) { __typename ... on EnrolParticipantSuccess { accessToken } ... on MutationError { code message field } } }'
LOGIN = "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { __typename ... on LoginSuccess { accessToken refreshToken } ... on MutationError { code } } }"
CREATE_ARM = 'mutation($s: ID!, $c: String!) { createArm(input: {studyId: $s, code: $c, name: "Arm"}) { __typename ... on CreateArmSuccess { arm { id } } ... on MutationError { code message field } } }'
PUBLISH = 'mutation($s: ID!) { publishConsentVersion(input: {studyId: $s, texts: [{language: "en", title: "Consent", body: "You agree."}]}) { __typename ... on PublishConsentVersionSuccess { consentVersion { id } } ... on MutationError { code message field } } }'
SIGN_CONSENT = 'mutation($v: ID!) { signConsent(input: {consentVersionId: $v, language: "en", name: "P. Participant"}) { __typename ... on SignConsentSuccess { consent { id } } ... on MutationError { code message field } } }'
PUBLISH_QUESTIONNAIRE = 'mutation($s: ID!, $c: String!) { publishQuestionnaire(input: {studyId: $s, code: $c, title: [{language: "en", text: "Pain"}], languages: ["en"], items: [{code: "PAIN", type: SCALE, minimum: "0", maximum: "10", anchors: [{value: 0, texts: [{language: "en", text: "None"}]}, {value: 10, texts: [{language: "en", text: "Worst"}]}], texts: [{language: "en", text: "Pain today?"}]}, {code: "NOTE", type: FREE_TEXT, required: false, maxLength: 200, texts: [{language: "en", text: "Anything else?"}]}]}) { __typename ... on PublishQuestionnaireSuccess { questionnaire { id version contentHash } } ... on MutationError { code message field } } }'
HOURS = [f"{h:02d}:00" for h in range(24)]
CREATE_DIARY = 'mutation($s: ID!, $t: [String!]!) { createDiarySchedule(input: {studyId: $s, questionnaireCode: "PAIN", times: $t, windowMinutes: 60, latePolicy: ACCEPT_LATE}) { __typename ... on CreateDiaryScheduleSuccess { schedule { id } } ... on MutationError { code message field } } }'
ENROL_ARM = "mutation($p: ID!, $a: ID!) { enrolInStudy(input: {participantId: $p, armId: $a}) { __typename ... on MutationError { code } } }"
DUE = "query($p: ID!, $s: DateTime!, $e: DateTime!) { node(id: $p) { ... on Participant { diaryDue(start: $s, end: $e) { scheduleId occurrenceKey dueAt closesAt questionnaire { code version contentHash } } } } }"
SUBMIT_DIARY = "mutation($e: [DiaryEntryInput!]!, $p: ID, $r: String) { submitDiaryEntries(input: {entries: $e, participantId: $p, proxyReason: $r}) { __typename ... on SubmitDiaryEntriesSuccess { results { outcome code entry { id } } } ... on MutationError { code } } }"
REGISTER_DEVICE = 'mutation($t: ID!, $n: String!) { registerDevice(input: {siteId: $t, kinds: [HEART_RATE], model: "Watch", serial: $n}) { __typename ... on DeviceSuccess { device { id } } ... on MutationError { code message field } } }'
ASSIGN_DEVICE = "mutation($t: ID!, $p: ID!) { assignDevice(input: {deviceId: $t, participantId: $p}) { __typename ... on MutationError { code } } }"
SUBMIT_READINGS = "mutation($i: [ReadingInput!]!) { submitReadings(input: {items: $i}) { __typename ... on SubmitReadingsSuccess { results { outcome code readingId } } ... on MutationError { code } } }"


def now() -> datetime:
    """The pinned "now" the app under test also reads."""
    return CLOCK.now()


def diary_entry(due: dict[str, Any]) -> dict[str, Any]:
    return {
        "clientId": str(uuid.uuid4()),
        "scheduleId": due["scheduleId"],
        "occurrenceKey": due["occurrenceKey"],
        "questionnaireCode": due["questionnaire"]["code"],
        "questionnaireVersion": due["questionnaire"]["version"],
        "contentHash": due["questionnaire"]["contentHash"],
        "answers": {"PAIN": 3, "NOTE": "Knee hurts"},
        "completedAt": now().isoformat(),
    }


def heart_rate(device: str, beats: int = 72) -> dict[str, Any]:
    return {
        "deviceId": device,
        "kind": "HEART_RATE",
        "sourceId": str(uuid.uuid4()),
        "body": {
            "heart_rate": {"value": beats, "unit": "beats/min"},
            "effective_time_frame": {"date_time": now().isoformat()},
        },
    }


async def open_occurrence(
    run: Callable[..., Awaitable[dict[str, Any]]], participant: str
) -> dict[str, Any]:
    """The participant's diary occurrence whose window is open now (the schedule is hourly)."""
    moment = now()
    body = await run(
        DUE,
        p=participant,
        s=(moment - timedelta(hours=2)).isoformat(),
        e=(moment + timedelta(hours=1)).isoformat(),
    )
    for due in body["data"]["node"]["diaryDue"]:
        if datetime.fromisoformat(due["dueAt"]) <= moment < datetime.fromisoformat(due["closesAt"]):
            return dict(due)
    raise AssertionError(f"no open occurrence: {body}")


@dataclass
class AppTrial:
    """Study, site, a coordinator and an enrolled, consenting participant with a paired app,
    an hourly pain diary and a heart-rate watch: everything built through the API."""

    http: httpx.AsyncClient
    admin: str
    coordinator: str
    app: str
    study: str
    site: str
    participant: str
    device: str

    async def gql(self, token: str | None, query: str, **variables: Any) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        body: dict[str, Any] = response.json()
        return body

    @property
    def device_uuid(self) -> str:
        return str(from_global_id(self.device, "Device")[1])


async def build_app_trial(http: httpx.AsyncClient, settings: Settings) -> AppTrial:
    from tests.e2e.conftest import PASSWORD, create_user

    async def login(email: str) -> str:
        body = await trial.gql(None, LOGIN, e=email, p=PASSWORD)
        token: str = body["data"]["login"]["accessToken"]
        return token

    def pick(body: dict[str, Any], *path: str) -> str:
        value: Any = body["data"]
        for step in path:
            value = value[step]
        return str(value)

    trial = AppTrial(http, "", "", "", "", "", "", "")
    trial.admin = await login(await create_user(settings, (Grant(Role.ADMIN),)))
    code = f"E2E{uuid.uuid4().hex[:6]}".upper()
    made = await trial.gql(trial.admin, CREATE_STUDY, c=code)
    trial.study = pick(made, "createStudy", "study", "id")
    made = await trial.gql(trial.admin, CREATE_SITE, s=trial.study, c="BER")
    trial.site = pick(made, "createSite", "site", "id")
    grant = Grant(
        Role.COORDINATOR,
        StudyId(from_global_id(trial.study)[1]),
        SiteId(from_global_id(trial.site)[1]),
    )
    trial.coordinator = await login(await create_user(settings, (grant,)))
    made = await trial.gql(trial.coordinator, REGISTER, s=trial.site, n="S-001")
    trial.participant = pick(made, "registerParticipant", "participant", "id")
    issued = await trial.gql(trial.coordinator, ISSUE_CODE, p=trial.participant)
    enrolled = await trial.gql(
        None, ENROL, c=pick(issued, "issueEnrolmentCode", "enrolment", "code")
    )
    trial.app = pick(enrolled, "enrolParticipant", "accessToken")
    published = await trial.gql(trial.admin, PUBLISH, s=trial.study)
    version = pick(published, "publishConsentVersion", "consentVersion", "id")
    await trial.gql(trial.app, SIGN_CONSENT, v=version)
    arm = pick(
        await trial.gql(trial.admin, CREATE_ARM, s=trial.study, c="ARM1"), "createArm", "arm", "id"
    )
    await trial.gql(trial.coordinator, ENROL_ARM, p=trial.participant, a=arm)
    await trial.gql(trial.admin, PUBLISH_QUESTIONNAIRE, s=trial.study, c="PAIN")
    await trial.gql(trial.admin, CREATE_DIARY, s=trial.study, t=HOURS)
    made = await trial.gql(trial.coordinator, REGISTER_DEVICE, t=trial.site, n=f"SN-{code}")
    trial.device = pick(made, "registerDevice", "device", "id")
    assigned = await trial.gql(
        trial.coordinator, ASSIGN_DEVICE, t=trial.device, p=trial.participant
    )
    assert assigned["data"]["assignDevice"]["__typename"] == "DeviceSuccess", assigned
    return trial
