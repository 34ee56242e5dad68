"""GraphQL subscriptions: `changes` streams what changed, as it happens, to whoever may see it.

Served over graphql-transport-ws on /graphql (api/live_socket.py: authentication, limits,
close codes). Every notice of the change feed is ids only; for each one this module checks
the subscriber again (token, session and grants as they are now: see `Connection.current`,
and the kind's permission on the notice's scope) and loads the record through the same
authorized read path as `node(id:)`, once per kind of viewer (api/live_records.py).
A record the subscriber may not read is never sent: the event is dropped.

A new kind of event: a member of `LiveKind`, its permission in domain/live.py, and (if it
shows a record) a line in `_LOADERS` — plus the record's type in `LiveRecord` if it is new.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Annotated, cast

import strawberry

from api.context import Info
from api.live_records import MOVED, Records, viewer
from api.relay import from_global_id, to_global_id
from api.types.alerts import AlertType, alert_by_id
from api.types.data_queries import DataQueryType, query_by_id
from api.types.diary_entries import DiaryEntryType, entry_by_id
from api.types.exports import ExportJobType, export_by_id
from api.types.participants import ParticipantType, participant_by_id
from api.types.visits import VisitType, visit_by_id
from domain import live
from domain.access import Scope
from domain.errors import Forbidden, NotFound
from domain.ids import DataQueryId, ParticipantId, SiteId, VisitId
from domain.services import studies

if TYPE_CHECKING:
    from api.live_socket import LiveContext


@strawberry.enum(name="LiveKind", description="What kind of record a live event is about.")
class LiveKind(Enum):
    DIARY_ENTRY = "diary_entry"
    READING = "reading"
    READING_BATCH = "reading_batch"
    VISIT = "visit"
    DATA_QUERY = "data_query"
    EXPORT = "export"
    COMPLIANCE = "compliance"  # consent signed or withdrawn
    ALERT = "alert"  # an alert raised or acknowledged at a site


LiveRecord = Annotated[
    DiaryEntryType | VisitType | DataQueryType | ExportJobType | ParticipantType | AlertType,
    strawberry.union("LiveRecord", description="The record an event is about, as you may see it."),
]


@strawberry.type(name="LiveEvent", description="One change you may see, just committed.")
class LiveEvent:
    kind: LiveKind
    action: str = strawberry.field(description="What happened: created, updated, received...")
    record_id: uuid.UUID = strawberry.field(description="The changed record's own id.")
    site_id: strawberry.ID | None
    participant_id: strawberry.ID | None
    record: LiveRecord | None = strawberry.field(
        description="The record (for readings and compliance: the participant, whose "
        "readingSummaries and compliance show the change), loaded as `node` would."
    )


Loader = Callable[[Info, live.Notice], Awaitable[object | None]]


async def _participant(info: Info, notice: live.Notice) -> object | None:
    if notice.participant_id is None:
        return None
    return await participant_by_id(info, ParticipantId(notice.participant_id))


_LOADERS: Mapping[str, Loader] = {
    "diary_entry": lambda info, n: entry_by_id(info, n.record_id),
    "visit": lambda info, n: visit_by_id(info, VisitId(n.record_id)),
    "data_query": lambda info, n: query_by_id(info, DataQueryId(n.record_id)),
    "export": lambda info, n: export_by_id(info, n.record_id),
    "reading": _participant,
    "reading_batch": _participant,
    "compliance": _participant,
    "alert": lambda info, n: alert_by_id(info, n.record_id),
}
_EVERY_KIND = frozenset(kind.value for kind in LiveKind)
_RECORDS = Records()  # the process's: notices are the change feed's own objects


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Changes you may see, as they are committed (over graphql-transport-ws). "
        "`kinds`: only these (all when omitted); `siteIds`: only these sites (every site "
        "you may see when omitted; study-wide records such as exports then too)."
    )
    async def changes(
        self,
        info: Info,
        kinds: list[LiveKind] | None = None,
        site_ids: list[strawberry.ID] | None = None,
    ) -> AsyncGenerator[LiveEvent, None]:
        context = cast("LiveContext", info.context)
        wanted = frozenset(k.value for k in kinds) if kinds else _EVERY_KIND
        sites = await _sites(info, site_ids or [])
        site_ids_wanted = frozenset(s.site_id for s in sites if s.site_id is not None)
        live.require_listening(context.caller.actor, wanted, sites)
        connection = context.live
        with connection.streaming(wanted, sites):
            async for notice in connection.feed.listen(None):
                connection.heard(notice)  # an `access` notice: read the account again
                if notice.kind not in wanted:
                    continue
                if site_ids_wanted and notice.site_id not in site_ids_wanted:
                    continue
                actor = await connection.current()  # token, session and grants as they are
                if actor is None:
                    return  # the socket is closed: token expired or session ended
                try:
                    live.require_listening(actor, wanted, sites)
                except Forbidden:
                    await connection.forbid()
                    return
                if not live.may_hear(actor, notice):
                    continue

                async def load(
                    seen: Hashable | None, notice: live.Notice = notice
                ) -> object | None:
                    if seen is not None and viewer(context.caller.actor) != seen:
                        return MOVED  # this subscriber's grants changed meanwhile
                    async with connection.gate:
                        return await _LOADERS[notice.kind](info, notice)

                record = await _RECORDS.load(notice, actor, load)
                if record is None:
                    continue  # not (or no longer) readable by this subscriber
                connection.metrics.sent()
                yield _event(notice, record)


def _event(notice: live.Notice, record: object) -> LiveEvent:
    return LiveEvent(
        kind=LiveKind(notice.kind),
        action=notice.action,
        record_id=notice.record_id,
        site_id=None if notice.site_id is None else to_global_id("Site", notice.site_id),
        participant_id=(
            None
            if notice.participant_id is None
            else to_global_id("Participant", notice.participant_id)
        ),
        record=cast("LiveRecord", record),
    )


async def _sites(info: Info, ids: list[strawberry.ID]) -> list[Scope]:
    """The scopes of the sites asked for; a site the caller may not see is NOT_FOUND."""
    scopes = []
    for global_id in ids[:100]:
        _, raw = from_global_id(global_id, "Site")
        try:
            site = await studies.get_site(
                uow=info.context.services.uow(), ctx=info.context.caller, site_id=SiteId(raw)
            )
        except Forbidden:
            raise NotFound("Site") from None
        scopes.append(Scope(study_id=site.study_id, site_id=site.id))
    return scopes
