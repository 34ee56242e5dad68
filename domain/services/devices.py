"""Use cases for devices: register at a site, assign to a participant, unassign."""

from __future__ import annotations

from collections.abc import Sequence

from domain import access, audit
from domain.access import Permission, Scope
from domain.actors import RequestContext
from domain.devices import Device
from domain.errors import DomainError, ErrorCode, NotFound
from domain.ids import DeviceId, ParticipantId, SiteId
from domain.ports import UnitOfWork
from domain.readings import ReadingKind
from domain.services.participants import participant_scope
from domain.services.studies import require_open, site_scope


def device_scope(device: Device) -> Scope:
    return Scope(device.study_id, device.site_id, device.participant_id)


def _subject(device: Device) -> audit.Subject:
    return audit.Subject(device.study_id, device.site_id, device.participant_id)


async def register(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    site_id: SiteId,
    kinds: tuple[ReadingKind, ...],
    model: str,
    serial: str,
) -> Device:
    async with uow:
        found = await uow.sites.get(site_id)
        site = access.visible(ctx.actor, Permission.SITE_READ, found, site_scope, "Site")
        grant = access.require(ctx.actor, Permission.DEVICE_MANAGE, site_scope(site))
        await require_open(uow, site.study_id)
        device = Device.register(
            study_id=site.study_id,
            site_id=site.id,
            kinds=kinds,
            model=model,
            serial=serial,
            now=uow.clock.now(),
        )
        await uow.devices.add(device)
        # Held by nobody yet: the serial is sealed with the device's own key.
        subject = audit.Subject(device.study_id, device.site_id, data_owner=device.id)
        uow.record(audit.created(ctx, grant, device, subject))
        await uow.commit()
    return device


async def assign(
    *, uow: UnitOfWork, ctx: RequestContext, device_id: DeviceId, participant_id: ParticipantId
) -> Device:
    async with uow:
        found = await uow.devices.get(device_id)
        device = access.visible(ctx.actor, Permission.SITE_READ, found, device_scope, "Device")
        grant = access.require(ctx.actor, Permission.DEVICE_MANAGE, device_scope(device))
        person = await uow.participants.get(participant_id)
        participant = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, person, participant_scope, "Participant"
        )
        if participant.site_id != device.site_id:
            raise DomainError(
                ErrorCode.VALIDATION_FAILED,
                "The device belongs to another site.",
                field="participant_id",
            )
        await require_open(uow, device.study_id)
        now = uow.clock.now()
        assigned = device.assigned(participant.id, now)
        await uow.devices.update(assigned)
        if device.participant_id is None:
            await uow.devices.open_assignment(device.id, participant.id, now)
        change = audit.updated(ctx, grant, device, assigned, _subject(assigned), action="assigned")
        if change is not None:
            uow.record(change)
        await uow.commit()
    return assigned


async def unassign(
    *, uow: UnitOfWork, ctx: RequestContext, device_id: DeviceId, reason: str
) -> Device:
    why = audit.normalise_reason(reason)
    if why is None:
        raise DomainError(ErrorCode.REASON_REQUIRED, "Give a reason.", field="reason")
    async with uow:
        found = await uow.devices.get(device_id)
        device = access.visible(ctx.actor, Permission.SITE_READ, found, device_scope, "Device")
        grant = access.require(ctx.actor, Permission.DEVICE_MANAGE, device_scope(device))
        released = device.unassigned()
        await uow.devices.update(released)
        await uow.devices.close_assignment(device.id, uow.clock.now())
        change = audit.updated(
            ctx, grant, device, released, _subject(device), action="unassigned", reason=why
        )
        if change is not None:
            uow.record(change)
        await uow.commit()
    return released


async def at_site(*, uow: UnitOfWork, ctx: RequestContext, site_id: SiteId) -> Sequence[Device]:
    async with uow:
        found = await uow.sites.get(site_id)
        site = access.visible(ctx.actor, Permission.SITE_READ, found, site_scope, "Site")
        return await uow.devices.at_site(site.id)


async def get(*, uow: UnitOfWork, ctx: RequestContext, device_id: DeviceId) -> Device:
    async with uow:
        found = await uow.devices.get(device_id)
    if found is None:
        raise NotFound("Device")
    return access.visible(ctx.actor, Permission.SITE_READ, found, device_scope, "Device")


def serial_of(ctx: RequestContext, device: Device) -> str:
    """Serial numbers identify a device and through it its holder: site staff only."""
    access.require_field(ctx.actor, Device.ENTITY, "serial", device_scope(device))
    return device.serial
