"""The first vertical slice over HTTP: sign in, create a study and site, register participants."""

from __future__ import annotations

from typing import Any

import httpx

from api.relay import from_global_id
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import SiteId
from tests.e2e.conftest import Gql, create_user, login

CREATE_STUDY = """
mutation($code: String!) {
  createStudy(input: {code: $code, title: "Home-based heart failure study"}) {
    __typename
    ... on CreateStudySuccess { study { id code title createdAt } }
    ... on MutationError { code message field }
  }
}"""

CREATE_SITE = """
mutation($study: ID!) {
  createSite(input: {studyId: $study, code: "BER", name: "Charité", country: "de", timezone: "Europe/Berlin"}) {
    __typename
    ... on CreateSiteSuccess { site { id code country study { code } } }
    ... on MutationError { code message field }
  }
}"""

REGISTER = """
mutation($site: ID!, $number: String!) {
  registerParticipant(input: {siteId: $site, screeningNumber: $number}) {
    __typename
    ... on RegisterParticipantSuccess { participant { id subjectId status timezone version site { code } } }
    ... on MutationError { code message field }
  }
}"""

PARTICIPANTS = """
query($site: ID!, $first: Int, $after: String) {
  node(id: $site) {
    ... on Site { participants(first: $first, after: $after) {
      edges { cursor node { subjectId screeningNumber } }
      pageInfo { hasNextPage endCursor }
    } }
  }
}"""


async def _study_and_site(gql: Gql, token: str, code: str) -> tuple[str, str]:
    study = (await gql(CREATE_STUDY, {"code": code}, token))["data"]["createStudy"]
    assert study["__typename"] == "CreateStudySuccess", study
    site = (await gql(CREATE_SITE, {"study": study["study"]["id"]}, token))["data"]["createSite"]
    assert site["__typename"] == "CreateSiteSuccess", site
    assert site["site"]["country"] == "DE"
    return study["study"]["id"], site["site"]["id"]


async def test_anonymous_callers_see_no_studies(gql: Gql) -> None:
    assert await gql("{ studies { id } }") == {"data": {"studies": []}}


async def test_queries_work_over_get(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": "{ studies { id } }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"studies": []}}


async def test_get_cannot_run_mutations(client: httpx.AsyncClient) -> None:
    query = 'mutation { createStudy(input: {code: "X", title: "Y"}) { __typename } }'
    response = await client.get("/graphql", params={"query": query})
    assert response.status_code == 405


async def test_admin_builds_a_study_and_staff_register_participants(
    gql: Gql, admin_token: str, settings: Settings
) -> None:
    study_id, site_id = await _study_and_site(gql, admin_token, "E2E-1")
    studies = (await gql("{ studies { id code sites { code } } }", token=admin_token))["data"][
        "studies"
    ]
    assert {"id": study_id, "code": "E2E-1", "sites": [{"code": "BER"}]} in studies

    site = SiteId(from_global_id(site_id, "Site")[1])
    coordinator = await login(
        gql, await create_user(settings, (Grant(Role.COORDINATOR, site_id=site),))
    )
    made = []
    for n in range(3):
        result = (await gql(REGISTER, {"site": site_id, "number": f"SCR-{n}"}, coordinator))["data"]
        participant = result["registerParticipant"]
        assert participant["__typename"] == "RegisterParticipantSuccess", participant
        assert participant["participant"]["status"] == "SCREENED"
        assert participant["participant"]["timezone"] == "Europe/Berlin"
        made.append(participant["participant"]["subjectId"])

    page = await gql(PARTICIPANTS, {"site": site_id, "first": 2}, coordinator)
    connection = page["data"]["node"]["participants"]
    assert [e["node"]["subjectId"] for e in connection["edges"]] == made[:2]
    assert connection["pageInfo"]["hasNextPage"] is True
    rest = await gql(
        PARTICIPANTS,
        {"site": site_id, "first": 2, "after": connection["pageInfo"]["endCursor"]},
        coordinator,
    )
    assert [e["node"]["subjectId"] for e in rest["data"]["node"]["participants"]["edges"]] == made[
        2:
    ]

    # The coordinator sees this study only, and only their site.
    mine = (await gql("{ studies { code sites { code } } }", token=coordinator))["data"]["studies"]
    assert mine == [{"code": "E2E-1", "sites": [{"code": "BER"}]}]


async def test_duplicate_codes_are_errors_in_the_payload(gql: Gql, admin_token: str) -> None:
    await gql(CREATE_STUDY, {"code": "E2E-DUP"}, admin_token)
    again = (await gql(CREATE_STUDY, {"code": "e2e-dup"}, admin_token))["data"]["createStudy"]
    assert again == {
        "__typename": "MutationError",
        "code": "ALREADY_EXISTS",
        "message": "A study with this code already exists.",
        "field": "code",
    }


async def test_mutations_need_a_signed_in_caller(gql: Gql) -> None:
    result = (await gql(CREATE_STUDY, {"code": "NOPE"}))["data"]["createStudy"]
    assert result["code"] == "UNAUTHENTICATED"


async def test_other_sites_participants_are_invisible(
    gql: Gql, admin_token: str, settings: Settings
) -> None:
    _, site_a = await _study_and_site(gql, admin_token, "E2E-ISO-A")
    _, site_b = await _study_and_site(gql, admin_token, "E2E-ISO-B")
    registered = (await gql(REGISTER, {"site": site_b, "number": "B-1"}, admin_token))["data"]
    participant_id = registered["registerParticipant"]["participant"]["id"]
    site = SiteId(from_global_id(site_a, "Site")[1])
    outsider = await login(
        gql, await create_user(settings, (Grant(Role.COORDINATOR, site_id=site),))
    )
    node = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": participant_id}, outsider)
    assert node == {"data": {"node": None}}
    page = await gql(PARTICIPANTS, {"site": site_b}, outsider)
    assert page == {"data": {"node": None}}
    denied = (await gql(REGISTER, {"site": site_b, "number": "B-2"}, outsider))["data"]
    assert denied["registerParticipant"]["code"] in ("FORBIDDEN", "NOT_FOUND")


async def test_withdrawal_needs_a_reason(gql: Gql, admin_token: str) -> None:
    _, site_id = await _study_and_site(gql, admin_token, "E2E-WD")
    registered = (await gql(REGISTER, {"site": site_id, "number": "W-1"}, admin_token))["data"]
    participant: dict[str, Any] = registered["registerParticipant"]["participant"]
    change = """
    mutation($id: ID!, $reason: String!) {
      changeParticipantStatus(input: {participantId: $id, status: WITHDRAWN, reason: $reason, expectedVersion: 1}) {
        __typename
        ... on ChangeParticipantStatusSuccess { participant { status version } }
        ... on MutationError { code field }
      }
    }"""
    refused = (await gql(change, {"id": participant["id"], "reason": " "}, admin_token))["data"]
    assert refused["changeParticipantStatus"] == {
        "__typename": "MutationError",
        "code": "REASON_REQUIRED",
        "field": "reason",
    }
    done = (await gql(change, {"id": participant["id"], "reason": "Moved abroad"}, admin_token))[
        "data"
    ]
    assert done["changeParticipantStatus"]["participant"] == {"status": "WITHDRAWN", "version": 2}
