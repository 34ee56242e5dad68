"""The trust core over HTTP: contact details, field-level privacy, the audit trail."""

from __future__ import annotations

from typing import Any

from api.relay import from_global_id
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import SiteId, StudyId
from tests.e2e.conftest import Gql, create_user, login
from tests.e2e.test_graphql_slice import REGISTER, _study_and_site

SET_CONTACT = """
mutation($input: SetParticipantContactInput!) {
  setParticipantContact(input: $input) {
    __typename
    ... on ContactSuccess { contact { fullName email phone dateOfBirth address version } }
    ... on MutationError { code field message }
  }
}"""

TRAIL = """
query($filter: AuditTrailFilter, $first: Int, $after: String, $newest: Boolean) {
  auditTrail(filter: $filter, first: $first, after: $after, newestFirst: $newest) {
    edges { node {
      position action entityType recordedAt hash
      actor { kind role }
      changes { field personal old { state value } new { state value } }
      reason { state value }
      origin { requestId }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def _people(gql: Gql, settings: Settings, code: str) -> dict[str, Any]:
    admin = await login(gql, await create_user(settings, (Grant(Role.ADMIN),)))
    study_id, site_id = await _study_and_site(gql, admin, code)
    site = SiteId(from_global_id(site_id, "Site")[1])
    study = StudyId(from_global_id(study_id, "Study")[1])
    coordinator = await login(
        gql, await create_user(settings, (Grant(Role.COORDINATOR, site_id=site),))
    )
    manager = await login(
        gql, await create_user(settings, (Grant(Role.DATA_MANAGER, study_id=study),))
    )
    registered = await gql(REGISTER, {"site": site_id, "number": "C-1"}, coordinator)
    participant = registered["data"]["registerParticipant"]["participant"]["id"]
    return {
        "admin": admin,
        "coordinator": coordinator,
        "manager": manager,
        "participant": participant,
        "study": study_id,
    }


async def test_contact_details_are_for_site_staff_only(gql: Gql, settings: Settings) -> None:
    w = await _people(gql, settings, "E2E-TC-1")
    contact = {
        "participantId": w["participant"],
        "fullName": "Ingrid Holmqvist",
        "email": "Ingrid@Example.org",
        "phone": "+46 8 123 456",
        "dateOfBirth": "1957-09-30",
        "address": "Storgatan 1, Stockholm",
        "expectedVersion": 0,
    }
    saved = (await gql(SET_CONTACT, {"input": contact}, w["coordinator"]))["data"][
        "setParticipantContact"
    ]
    assert saved["contact"] == {
        "fullName": "Ingrid Holmqvist",
        "email": "ingrid@example.org",
        "phone": "+46 8 123 456",
        "dateOfBirth": "1957-09-30",
        "address": "Storgatan 1, Stockholm",
        "version": 1,
    }
    query = "query($id: ID!) { node(id: $id) { ... on Participant { subjectId contact { fullName } } } }"
    mine = await gql(query, {"id": w["participant"]}, w["coordinator"])
    assert mine["data"]["node"]["contact"] == {"fullName": "Ingrid Holmqvist"}
    theirs = await gql(query, {"id": w["participant"]}, w["manager"])
    assert theirs["data"]["node"]["contact"] is None
    assert theirs["data"]["node"]["subjectId"]
    assert theirs["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "Ingrid" not in str(theirs)
    found = await gql(
        'query($s: ID!) { findParticipantsByContact(studyId: $s, email: "INGRID@example.org") { id } }',
        {"s": w["study"]},
        w["coordinator"],
    )
    assert found["data"]["findParticipantsByContact"] == [{"id": w["participant"]}]
    stale = (await gql(SET_CONTACT, {"input": contact}, w["coordinator"]))["data"][
        "setParticipantContact"
    ]
    assert stale["code"] == "STALE_VERSION"


async def test_the_trail_shows_who_what_when_why_and_where(gql: Gql, settings: Settings) -> None:
    w = await _people(gql, settings, "E2E-TC-2")
    base = {
        "participantId": w["participant"],
        "fullName": "Jonas Berg",
        "email": "jonas@example.org",
    }
    await gql(SET_CONTACT, {"input": base}, w["coordinator"])
    await gql(
        SET_CONTACT,
        {"input": base | {"email": "jonas.berg@example.org", "expectedVersion": 1}},
        w["coordinator"],
    )
    trail = await gql(
        TRAIL, {"filter": {"participantId": w["participant"], "field": "email"}}, w["coordinator"]
    )
    events = [e["node"] for e in trail["data"]["auditTrail"]["edges"]]
    assert [e["entityType"] for e in events] == ["ParticipantContact", "ParticipantContact"]
    assert events[1]["actor"] == {"kind": "STAFF", "role": "COORDINATOR"}
    assert events[1]["changes"] == [
        {
            "field": "email",
            "personal": True,
            "old": {"state": "REVEALED", "value": "jonas@example.org"},
            "new": {"state": "REVEALED", "value": "jonas.berg@example.org"},
        }
    ]
    assert events[1]["recordedAt"].endswith("+00:00")
    assert events[1]["origin"]["requestId"]
    withheld = await gql(
        TRAIL, {"filter": {"participantId": w["participant"], "field": "email"}}, w["manager"]
    )
    states = {
        c["new"]["state"]
        for e in withheld["data"]["auditTrail"]["edges"]
        for c in e["node"]["changes"]
        if c["field"] == "email"
    }
    assert states == {"WITHHELD"}
    assert "jonas" not in str(withheld)
    newest = await gql(
        TRAIL,
        {"filter": {"participantId": w["participant"]}, "first": 1, "newest": True},
        w["coordinator"],
    )
    connection = newest["data"]["auditTrail"]
    assert connection["pageInfo"]["hasNextPage"] is True
    assert connection["edges"][0]["node"]["position"] == events[1]["position"]


async def test_redaction_and_erasure_over_graphql(gql: Gql, settings: Settings) -> None:
    w = await _people(gql, settings, "E2E-TC-3")
    await gql(
        SET_CONTACT,
        {"input": {"participantId": w["participant"], "address": "HIV positive"}},
        w["coordinator"],
    )
    redact = """
    mutation($p: ID!) { redactParticipantContact(input: {participantId: $p, field: ADDRESS, reason: "Health data in the address"}) {
      __typename ... on ContactSuccess { contact { address version } } ... on MutationError { code } } }"""
    done = (await gql(redact, {"p": w["participant"]}, w["coordinator"]))["data"][
        "redactParticipantContact"
    ]
    assert done == {"__typename": "ContactSuccess", "contact": {"address": None, "version": 2}}
    trail = await gql(
        TRAIL, {"filter": {"participantId": w["participant"], "field": "address"}}, w["coordinator"]
    )
    assert "HIV" not in str(trail)
    erase = """
    mutation($p: ID!, $basis: String!) { eraseParticipant(input: {participantId: $p, legalBasis: $basis}) {
      __typename ... on EraseParticipantSuccess { participant { erasedAt } } ... on MutationError { code } } }"""
    refused = (await gql(erase, {"p": w["participant"], "basis": "x"}, w["coordinator"]))["data"][
        "eraseParticipant"
    ]
    assert refused == {"__typename": "MutationError", "code": "NOT_FOUND"}
    erased = (await gql(erase, {"p": w["participant"], "basis": "GDPR Art. 17"}, w["admin"]))[
        "data"
    ]["eraseParticipant"]
    assert erased["participant"]["erasedAt"]
    query = (
        "query($id: ID!) { node(id: $id) { ... on Participant { erasedAt contact { fullName } } } }"
    )
    after = await gql(query, {"id": w["participant"]}, w["coordinator"])
    assert after["data"]["node"]["contact"] is None
    assert after["data"]["node"]["erasedAt"]
