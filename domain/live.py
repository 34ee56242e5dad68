"""Live events: what a subscriber may hear of the change feed, decided by the one policy.

The feed (a port: `ChangeFeed`) carries notices of ids only. Which notices a subscriber hears
is decided here for every notice, on the subscriber's grants as they are now: the kind's
read permission on the notice's scope (study, site, participant). What the subscriber is then
shown is loaded through the normal authorized read path.

A new kind of event is one line in `KIND_PERMISSIONS` (and its loader in api/live.py).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, Mapping
from typing import Protocol

from domain import access
from domain.access import Permission, Scope
from domain.actors import Actor, ActorKind
from domain.errors import Forbidden, Unauthenticated
from domain.ids import ParticipantId, SiteId, StudyId

# The feed's notice that an account changed (grants, status, sign-out): not an event.
ACCESS = "access"

# The permission each kind's events need on their scope.
KIND_PERMISSIONS: Mapping[str, Permission] = {
    "diary_entry": Permission.PARTICIPANT_READ,
    "reading": Permission.PARTICIPANT_READ,
    "reading_batch": Permission.PARTICIPANT_READ,
    "visit": Permission.PARTICIPANT_READ,
    "data_query": Permission.QUERY_READ,
    "export": Permission.EXPORT,
    "compliance": Permission.PARTICIPANT_READ,
    "alert": Permission.PARTICIPANT_READ,  # as `Site.alerts`
}


class Notice(Protocol):
    """One change as the feed carries it: ids and the action only."""

    @property
    def kind(self) -> str: ...
    @property
    def record_id(self) -> uuid.UUID: ...
    @property
    def action(self) -> str: ...
    @property
    def study_id(self) -> uuid.UUID | None: ...
    @property
    def site_id(self) -> uuid.UUID | None: ...
    @property
    def participant_id(self) -> uuid.UUID | None: ...


class ChangeFeed(Protocol):
    """The process's listener on the change feed (infra/changefeed/hub.py)."""

    def listen(self, site_ids: Collection[uuid.UUID] | None = None) -> AsyncIterator[Notice]: ...


def scope_of(notice: Notice) -> Scope:
    return Scope(
        study_id=None if notice.study_id is None else StudyId(notice.study_id),
        site_id=None if notice.site_id is None else SiteId(notice.site_id),
        participant_id=(
            None if notice.participant_id is None else ParticipantId(notice.participant_id)
        ),
    )


def may_hear(actor: Actor, notice: Notice) -> bool:
    """Whether the actor, with the grants they hold now, may hear of this change."""
    permission = KIND_PERMISSIONS.get(notice.kind)
    return permission is not None and access.allows(actor, permission, scope_of(notice))


def concerns(actor: Actor, notice: Notice) -> bool:
    """Whether an `access` notice is about this actor's own account."""
    return notice.kind == ACCESS and actor.id is not None and notice.record_id == actor.id


def require_listening(actor: Actor, kinds: Collection[str], sites: Collection[Scope]) -> None:
    """May the actor subscribe to (or keep) a stream of these kinds, on these sites (all
    they may see when empty)? Unauthenticated or Forbidden when not."""
    if actor.kind is ActorKind.ANONYMOUS:
        raise Unauthenticated
    permissions = {KIND_PERMISSIONS[kind] for kind in kinds}
    if sites:
        if not any(access.allows(actor, p, site) for p in permissions for site in sites):
            raise Forbidden
        return
    if not any(p in access.ROLE_PERMISSIONS[g.role] for p in permissions for g in actor.grants):
        raise Forbidden
