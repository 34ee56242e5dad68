"""Use case for rotating the key-encryption key; the rotation is itself audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from domain import access, audit
from domain.access import Permission
from domain.actors import RequestContext
from domain.ports import UnitOfWork


@dataclass(frozen=True)
class Rotation:
    old_kek: str
    new_kek: str
    rewrapped: int


async def rotate_keys(*, uow: UnitOfWork, ctx: RequestContext) -> Rotation:
    """New KEK, every data key re-wrapped under it; data is not re-encrypted."""
    grant = access.require(ctx.actor, Permission.KEYS_MANAGE)
    async with uow:
        old, new = uow.keys.rotate_kek()
        count = await uow.keys.rewrap_all()
        uow.record(
            audit.Change(
                entity_type="KeyEncryptionKey",
                entity_id=uuid.uuid5(uuid.NAMESPACE_URL, f"hearth:kek:{new}"),
                action="rotated",
                fields=(
                    audit.FieldChange("kek_id", old, new),
                    audit.FieldChange("rewrapped_data_keys", None, count),
                ),
                actor=ctx.actor,
                role=grant.role,
                origin=ctx.origin,
                subject=audit.Subject(),
            )
        )
        await uow.commit()
    return Rotation(old_kek=old, new_kek=new, rewrapped=count)
