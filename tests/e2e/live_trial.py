"""A study with two sites, a coordinator at each, a data manager who raises queries, and a
participant at each site: built through GraphQL over any synchronous HTTP client (the
starlette TestClient of the in-process socket tests, or httpx against a real server)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from api.relay import from_global_id
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import SiteId, StudyId
from tests.e2e.conftest import PASSWORD, create_user
from tests.e2e.trial import CREATE_SITE, CREATE_STUDY, LOGIN, REGISTER

RAISE = 'mutation($r: ID!) { raiseQuery(input: {recordId: $r, field: "screeningNumber", question: "Please confirm."}) { __typename ... on DataQuerySuccess { query { id } } ... on MutationError { code message } } }'
LOGOUT = "mutation { logout { __typename } }"
VIEWER = "{ viewer { id } }"

Post = Callable[[str, dict[str, Any], str | None], dict[str, Any]]


@dataclass
class LiveTrial:
    post: Post
    admin: str = ""
    manager: str = ""
    study: str = ""
    sites: list[str] = field(default_factory=list)
    coordinators: list[str] = field(default_factory=list)
    participants: list[str] = field(default_factory=list)

    def gql(self, token: str | None, query: str, **variables: Any) -> dict[str, Any]:
        return self.post(query, variables, token)

    def raise_query(self, site: int) -> str:
        """A data query on the site's participant, by the data manager: its global id."""
        body = self.gql(self.manager, RAISE, r=self.participants[site])
        return str(body["data"]["raiseQuery"]["query"]["id"])

    def coordinator_grant(self, site: int) -> Grant:
        return Grant(
            Role.COORDINATOR,
            StudyId(from_global_id(self.study)[1]),
            SiteId(from_global_id(self.sites[site])[1]),
        )

    def user_id(self, token: str) -> uuid.UUID:
        return uuid.UUID(self.gql(token, VIEWER)["data"]["viewer"]["id"])


def build_live_trial(post: Post, settings: Settings) -> LiveTrial:
    trial = LiveTrial(post)

    def login(grants: tuple[Grant, ...]) -> str:
        email = asyncio.run(create_user(settings, grants))
        body = trial.gql(None, LOGIN, e=email, p=PASSWORD)
        return str(body["data"]["login"]["accessToken"])

    trial.admin = login((Grant(Role.ADMIN),))
    made = trial.gql(trial.admin, CREATE_STUDY, c=f"LIVE{uuid.uuid4().hex[:6]}".upper())
    trial.study = made["data"]["createStudy"]["study"]["id"]
    study_id = StudyId(from_global_id(trial.study)[1])
    trial.manager = login((Grant(Role.DATA_MANAGER, study_id),))
    for code in ("A", "B"):
        made = trial.gql(trial.admin, CREATE_SITE, s=trial.study, c=code)
        trial.sites.append(made["data"]["createSite"]["site"]["id"])
    for index in range(2):
        trial.coordinators.append(login((trial.coordinator_grant(index),)))
        made = trial.gql(
            trial.coordinators[index], REGISTER, s=trial.sites[index], n=f"S-{index}01"
        )
        trial.participants.append(made["data"]["registerParticipant"]["participant"]["id"])
    return trial
