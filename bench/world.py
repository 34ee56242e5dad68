"""A trial built through the public API, as the e2e tests build theirs: staff, study, site,
arm, consent, participants enrolled with their app, a diary and a heart-rate watch.

Only the staff users are made through the use case (as an operator does with the CLI); every
other step is a GraphQL call over HTTP, so the benchmarks start from what a real client sees.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from api.app import build_runtime
from api.relay import from_global_id
from api.settings import Settings
from domain.actors import Grant, Origin, RequestContext, Role, system_actor
from domain.ids import SiteId, StudyId
from domain.services import users

PASSWORD = "correct horse battery staple"

# Every mutation asks for the error payload with this fragment.
FAILED = "\nfragment Failed on MutationError { code message field }"
LOGIN = (
    """mutation($e: String!, $p: String!) {
  login(input: {email: $e, password: $p}) {
    __typename ... on LoginSuccess { accessToken } ...Failed
  }
}"""
    + FAILED
)
CREATE_STUDY = (
    """mutation($c: String!) {
  createStudy(input: {code: $c, title: "Bench"}) {
    __typename ... on CreateStudySuccess { study { id } } ...Failed
  }
}"""
    + FAILED
)
CREATE_SITE = (
    """mutation($s: ID!, $c: String!) {
  createSite(
    input: {studyId: $s, code: $c, name: "S", country: "DE", timezone: "Europe/Berlin"}
  ) { __typename ... on CreateSiteSuccess { site { id } } ...Failed }
}"""
    + FAILED
)
CREATE_ARM = (
    """mutation($s: ID!, $c: String!) {
  createArm(input: {studyId: $s, code: $c, name: "Arm"}) {
    __typename ... on CreateArmSuccess { arm { id } } ...Failed
  }
}"""
    + FAILED
)
PUBLISH_CONSENT = (
    """mutation($s: ID!) {
  publishConsentVersion(
    input: {studyId: $s, texts: [{language: "en", title: "Consent", body: "You agree."}]}
  ) { __typename ... on PublishConsentVersionSuccess { consentVersion { id } } ...Failed }
}"""
    + FAILED
)
REGISTER = (
    """mutation($s: ID!, $n: String!, $z: String) {
  registerParticipant(input: {siteId: $s, screeningNumber: $n, timezone: $z}) {
    __typename ... on RegisterParticipantSuccess { participant { id } } ...Failed
  }
}"""
    + FAILED
)
ISSUE_CODE = (
    """mutation($p: ID!) {
  issueEnrolmentCode(input: {participantId: $p}) {
    __typename ... on IssueEnrolmentCodeSuccess { enrolment { code } } ...Failed
  }
}"""
    + FAILED
)
ENROL = (
    """mutation($c: String!) {
  enrolParticipant(
    input: {
      code: $c, installation: {platform: ANDROID, model: "P", osVersion: "16", appVersion: "1"}
    }
  ) { __typename ... on EnrolParticipantSuccess { accessToken } ...Failed }
}"""
    + FAILED
)
SIGN_CONSENT = (
    """mutation($v: ID!) {
  signConsent(input: {consentVersionId: $v, language: "en", name: "P. Participant"}) {
    __typename ... on SignConsentSuccess { consent { id } } ...Failed
  }
}"""
    + FAILED
)
ENROL_ARM = (
    """mutation($p: ID!, $a: ID!) {
  enrolInStudy(input: {participantId: $p, armId: $a}) { __typename ...Failed }
}"""
    + FAILED
)
PUBLISH_QUESTIONNAIRE = (
    """mutation($s: ID!, $c: String!) {
  publishQuestionnaire(input: {
    studyId: $s, code: $c, title: [{language: "en", text: "Pain"}], languages: ["en"],
    items: [
      {
        code: "PAIN", type: SCALE, minimum: "0", maximum: "10",
        anchors: [
          {value: 0, texts: [{language: "en", text: "None"}]},
          {value: 10, texts: [{language: "en", text: "Worst"}]}
        ],
        texts: [{language: "en", text: "Pain today?"}]
      },
      {
        code: "NOTE", type: FREE_TEXT, required: false, maxLength: 200,
        texts: [{language: "en", text: "Anything else?"}]
      }
    ]
  }) { __typename ... on PublishQuestionnaireSuccess { questionnaire { id } } ...Failed }
}"""
    + FAILED
)
CREATE_DIARY = (
    """mutation($s: ID!, $c: String!, $t: [String!]!, $w: Int!, $g: Int!) {
  createDiarySchedule(input: {
    studyId: $s, questionnaireCode: $c, times: $t, windowMinutes: $w,
    latePolicy: ACCEPT_LATE, lateGraceMinutes: $g
  }) { __typename ... on CreateDiaryScheduleSuccess { schedule { id } } ...Failed }
}"""
    + FAILED
)
DUE = """query($p: ID!, $s: DateTime!, $e: DateTime!) {
  node(id: $p) {
    ... on Participant {
      diaryDue(start: $s, end: $e) {
        scheduleId occurrenceKey dueAt answered questionnaire { code version contentHash }
      }
    }
  }
}"""
REGISTER_DEVICE = (
    """mutation($t: ID!, $n: String!) {
  registerDevice(input: {siteId: $t, kinds: [HEART_RATE], model: "Watch", serial: $n}) {
    __typename ... on DeviceSuccess { device { id } } ...Failed
  }
}"""
    + FAILED
)
ASSIGN_DEVICE = (
    """mutation($t: ID!, $p: ID!) {
  assignDevice(input: {deviceId: $t, participantId: $p}) {
    __typename ... on DeviceSuccess { device { id } } ...Failed
  }
}"""
    + FAILED
)


class BenchError(RuntimeError):
    """The API answered something a benchmark did not expect: stop, loudly."""


@dataclass(frozen=True)
class Api:
    http: httpx.AsyncClient

    async def query(self, token: str | None, document: str, **variables: Any) -> dict[str, Any]:
        """The `data` of a GraphQL call; any HTTP or GraphQL error raises BenchError."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": document, "variables": variables}, headers=headers
        )
        if response.status_code != 200:
            raise BenchError(f"HTTP {response.status_code}: {response.text[:500]}")
        body: dict[str, Any] = response.json()
        if body.get("errors") or body.get("data") is None:
            raise BenchError(f"GraphQL errors: {body.get('errors')}")
        data: dict[str, Any] = body["data"]
        return data

    async def mutate(
        self, token: str | None, document: str, field: str, **variables: Any
    ) -> dict[str, Any]:
        """The payload of mutation `field`; a MutationError raises BenchError."""
        payload: dict[str, Any] = (await self.query(token, document, **variables))[field]
        if payload["__typename"] == "MutationError":
            raise BenchError(f"{field}: {payload}")
        return payload


@dataclass(frozen=True)
class Participant:
    id: str  # global id
    app: str  # the app's access token

    @property
    def uuid(self) -> uuid.UUID:
        return from_global_id(self.id, "Participant")[1]


@dataclass(frozen=True)
class Trial:
    api: Api
    admin: str  # access tokens
    coordinator: str
    study: str  # global ids
    site: str
    arm: str
    consent: str

    @property
    def study_uuid(self) -> uuid.UUID:
        return from_global_id(self.study, "Study")[1]

    @property
    def site_uuid(self) -> uuid.UUID:
        return from_global_id(self.site, "Site")[1]


async def create_staff_user(settings: Settings, grants: tuple[Grant, ...]) -> str:
    """A staff user made through the use case, as an operator would: returns the e-mail."""
    email = f"bench-{uuid.uuid4().hex[:8]}@example.org"
    runtime = build_runtime(settings)
    try:
        await users.create_staff_user(
            uow=runtime.services.uow(),
            passwords=runtime.services.passwords,
            screen=runtime.services.password_screen,
            ctx=RequestContext(actor=system_actor("bench"), origin=Origin(request_id="bench")),
            email=email,
            name="Bench User",
            password=PASSWORD,
            grants=grants,
        )
    finally:
        await runtime.close()
    return email


async def login(api: Api, email: str) -> str:
    token: str = (await api.mutate(None, LOGIN, "login", e=email, p=PASSWORD))["accessToken"]
    return token


async def create_trial(http: httpx.AsyncClient, settings: Settings) -> Trial:
    """An admin and a site coordinator signed in; a study with a site, an arm and consent."""
    api = Api(http)
    admin = await login(api, await create_staff_user(settings, (Grant(Role.ADMIN),)))
    code = f"B{uuid.uuid4().hex[:6]}".upper()
    made = await api.mutate(admin, CREATE_STUDY, "createStudy", c=code)
    study: str = made["study"]["id"]
    made = await api.mutate(admin, CREATE_SITE, "createSite", s=study, c="BER")
    site: str = made["site"]["id"]
    grant = Grant(
        Role.COORDINATOR,
        StudyId(from_global_id(study, "Study")[1]),
        SiteId(from_global_id(site, "Site")[1]),
    )
    coordinator = await login(api, await create_staff_user(settings, (grant,)))
    arm: str = (await api.mutate(admin, CREATE_ARM, "createArm", s=study, c="ARM1"))["arm"]["id"]
    published = await api.mutate(admin, PUBLISH_CONSENT, "publishConsentVersion", s=study)
    consent: str = published["consentVersion"]["id"]
    return Trial(api, admin, coordinator, study, site, arm, consent)


async def enrol(trial: Trial, screening: str, timezone: str | None = None) -> Participant:
    """Registered by the coordinator, paired with the app, consenting, enrolled in the arm."""
    api = trial.api
    made = await api.mutate(
        trial.coordinator, REGISTER, "registerParticipant", s=trial.site, n=screening, z=timezone
    )
    participant: str = made["participant"]["id"]
    issued = await api.mutate(trial.coordinator, ISSUE_CODE, "issueEnrolmentCode", p=participant)
    enrolled = await api.mutate(None, ENROL, "enrolParticipant", c=issued["enrolment"]["code"])
    app: str = enrolled["accessToken"]
    await api.mutate(app, SIGN_CONSENT, "signConsent", v=trial.consent)
    await api.mutate(trial.coordinator, ENROL_ARM, "enrolInStudy", p=participant, a=trial.arm)
    return Participant(participant, app)


async def heart_rate_watch(trial: Trial, participant: Participant) -> str:
    """A HEART_RATE device registered at the site and assigned to the participant: its id."""
    made = await trial.api.mutate(
        trial.coordinator,
        REGISTER_DEVICE,
        "registerDevice",
        t=trial.site,
        n=f"SN-{uuid.uuid4().hex[:8]}",
    )
    device: str = made["device"]["id"]
    await trial.api.mutate(
        trial.coordinator, ASSIGN_DEVICE, "assignDevice", t=device, p=participant.id
    )
    return device


async def pain_diary(
    trial: Trial, times: list[str], *, window_minutes: int, late_grace_minutes: int
) -> str:
    """A two-item pain questionnaire scheduled at `times` (local), late entries accepted."""
    await trial.api.mutate(
        trial.admin, PUBLISH_QUESTIONNAIRE, "publishQuestionnaire", s=trial.study, c="PAIN"
    )
    made = await trial.api.mutate(
        trial.admin,
        CREATE_DIARY,
        "createDiarySchedule",
        s=trial.study,
        c="PAIN",
        t=times,
        w=window_minutes,
        g=late_grace_minutes,
    )
    schedule: str = made["schedule"]["id"]
    return schedule


async def due_now(trial: Trial, participant: Participant) -> list[dict[str, Any]]:
    """The participant's unanswered occurrences already due (oldest first), as the app sees."""
    now = datetime.now(UTC)
    data = await trial.api.query(
        participant.app,
        DUE,
        p=participant.id,
        s=(now - timedelta(days=2)).isoformat(),
        e=now.isoformat(),
    )
    found: list[dict[str, Any]] = data["node"]["diaryDue"]
    return [d for d in found if not d["answered"] and datetime.fromisoformat(d["dueAt"]) <= now]
