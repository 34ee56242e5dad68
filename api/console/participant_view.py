"""What the participant page shows, read through the use cases with the caller's rights.

Each part asks the domain; what the policy refuses (contact details for a monitor, say) is
left out, and the buttons shown follow `domain.access` — the domain still judges every post.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from markupsafe import Markup

from api.console import charts, web
from api.services import Services
from domain import access
from domain.access import Permission
from domain.actors import RequestContext
from domain.contacts import ContactDetails
from domain.data_queries import DataQuery
from domain.design import VisitDefinition
from domain.devices import StoredReading
from domain.diaries import Compliance, DiaryEntry
from domain.errors import DomainError
from domain.ids import ParticipantId
from domain.pagination import PageRequest
from domain.participants import Participant
from domain.records import QueryFilter, ReadingFilter, VisitFilter
from domain.services import consent as consent_cases
from domain.services import contacts as contact_cases
from domain.services import data_queries as query_cases
from domain.services import design as design_cases
from domain.services import diaries as diary_cases
from domain.services import participants as participant_cases
from domain.services import readings as reading_cases
from domain.services import signatures as signature_cases
from domain.services import studies as study_cases
from domain.services import visits as visit_cases
from domain.services.consent import ConsentState
from domain.services.signatures import ShownSignature
from domain.studies import Site
from domain.visits import Visit


@dataclass
class Event:
    """One line of the timeline: when (site zone, and the participant's if it differs)."""

    at: datetime
    when: str
    when_there: str
    kind: str
    text: str


@dataclass
class ParticipantView:
    participant: Participant
    site: Site
    zone_differs: bool
    contact: ContactDetails | None
    consent: ConsentState
    visits: list[Visit]
    entries: list[DiaryEntry]
    readings: list[StoredReading]
    queries: list[DataQuery]
    definitions: list[VisitDefinition]
    chart: Markup
    compliance: Compliance
    signatures: dict[str, list[ShownSignature]] = field(default_factory=dict)
    timeline: list[Event] = field(default_factory=list)
    may: dict[str, bool] = field(default_factory=dict)


async def load(services: Services, ctx: RequestContext, pid: ParticipantId) -> ParticipantView:
    uow = services.uow
    p = await participant_cases.get_participant(uow=uow(), ctx=ctx, participant_id=pid)
    site = await study_cases.get_site(uow=uow(), ctx=ctx, site_id=p.site_id)
    scope = participant_cases.participant_scope(p)
    contact = None
    if access.allows(ctx.actor, Permission.IDENTIFIERS_READ, scope):
        contact = await contact_cases.get_contact(uow=uow(), ctx=ctx, participant_id=pid)
    visits = await visit_cases.page(
        uow=uow(), ctx=ctx, filters=VisitFilter(participant_id=pid), request=PageRequest(first=100)
    )
    entries = await diary_cases.entries(
        uow=uow(), ctx=ctx, participant_id=pid, request=PageRequest(first=100)
    )
    readings = await reading_cases.page(
        uow=uow(),
        ctx=ctx,
        participant_id=pid,
        filters=ReadingFilter(),
        request=PageRequest(first=100),
    )
    queries = await query_cases.page(
        uow=uow(), ctx=ctx, filters=QueryFilter(participant_id=pid), request=PageRequest(first=100)
    )
    try:
        definitions = list(
            await design_cases.visit_definitions(uow=uow(), ctx=ctx, study_id=p.study_id)
        )
    except DomainError:
        definitions = []
    view = ParticipantView(
        participant=p,
        site=site,
        zone_differs=p.timezone != site.timezone,
        contact=contact,
        consent=await consent_cases.state(uow=uow(), ctx=ctx, participant_id=pid),
        visits=list(visits.items),
        entries=list(entries.items),
        readings=list(readings.items),
        queries=list(queries.items),
        definitions=definitions,
        chart=_chart(list(readings.items)),
        compliance=await diary_cases.compliance(uow=uow(), ctx=ctx, participant_ids=[pid]),
        may={
            "visits": access.allows(ctx.actor, Permission.VISIT_MANAGE, scope),
            "answer": access.allows(ctx.actor, Permission.QUERY_ANSWER, scope),
            "raise": access.allows(ctx.actor, Permission.QUERY_RAISE, scope),
            "correct": access.allows(ctx.actor, Permission.DATA_CORRECT, scope),
            "code": access.allows(ctx.actor, Permission.PARTICIPANT_UPDATE, scope),
            "sign": access.allows(ctx.actor, Permission.RECORD_SIGN, scope),
        },
    )
    records = [("Visit", v.id) for v in view.visits] + [("DiaryEntry", e.id) for e in view.entries]
    for kind, record_id in records:
        view.signatures[str(record_id)] = list(
            await signature_cases.signatures_of(
                uow=uow(), ctx=ctx, record_type=kind, record_id=record_id
            )
        )
    view.timeline = _timeline(view)
    return view


def _chart(readings: list[StoredReading]) -> Markup:
    points: list[tuple[datetime, Decimal]] = []
    label = ""
    for r in readings:
        if r.deleted_at is not None or not r.reading.components:
            continue
        _, measurement = sorted(r.reading.components.items())[0]
        label = label or f"{r.reading.kind} ({measurement.unit})"
        points.append((r.reading.effective_start, measurement.value))
    return charts.readings_chart(points, label)


def _timeline(view: ParticipantView) -> list[Event]:
    site_zone, own = view.site.timezone, view.participant.timezone

    def event(at: datetime, kind: str, text: str) -> Event:
        there = web.local(at, own) if view.zone_differs else ""
        return Event(at, web.local(at, site_zone), there, kind, text)

    events = [event(v.starts_at, "visit", f"{v.status} ({v.mode})") for v in view.visits]
    events += [
        event(e.completed_at, "diary", f"{e.questionnaire_code}: {e.timeliness} {e.status}")
        for e in view.entries
    ]
    events += [
        event(r.reading.effective_start, "reading", str(r.reading.kind)) for r in view.readings
    ]
    return sorted(events, key=lambda e: e.at)
