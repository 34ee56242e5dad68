"""Repository for staff users: e-mail and name sealed, e-mail found by blind index."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import RowMapping, case, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.actors import Grant, Role
from domain.errors import AlreadyExists, DomainError, ErrorCode
from domain.ids import SiteId, StudyId, UserId, new_id
from domain.pagination import Page, PageRequest
from domain.users import StaffUser, UserStatus
from infra.crypto.blind_index import normalise_email
from infra.db.data_keys import FieldCipher
from infra.db.keyset import keyset_page
from infra.db.tables import StaffGrantRow, StaffUserRow

_USERS = StaffUserRow.__table__  # type: ignore[attr-defined]
_GRANTS = StaffGrantRow.__table__  # type: ignore[attr-defined]
_ERASED = "[erased]"


class SqlUserRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._session = session
        self._cipher = cipher

    def _email_index(self, email: str) -> bytes:
        return self._cipher.index("staff_users.email", email, normalise_email)

    async def add(self, user: StaffUser, password_hash: str) -> None:
        await self._cipher.keys.create(user.id, "staff")
        seal = self._cipher.seal
        values = {
            "id": user.id,
            "email_index": self._email_index(user.email),
            "email_sealed": await seal(user.id, "staff_users", "email", user.id, user.email),
            "name_sealed": await seal(user.id, "staff_users", "name", user.id, user.name),
            "password_hash": password_hash,
            "status": user.status.value,
            "created_at": user.created_at,
            "version": user.version,
        }
        try:
            await self._session.execute(insert(_USERS).values(values))
        except IntegrityError as error:
            raise AlreadyExists("A user with this e-mail", field="email") from error
        await self._insert_grants(user.id, user.grants)

    async def _insert_grants(self, user_id: UserId, grants: Sequence[Grant]) -> None:
        if grants:
            await self._session.execute(
                insert(_GRANTS),
                [
                    {
                        "id": new_id(),
                        "user_id": user_id,
                        "role": g.role.value,
                        "study_id": g.study_id,
                        "site_id": g.site_id,
                    }
                    for g in grants
                ],
            )

    async def get(self, user_id: UserId) -> StaffUser | None:
        row = (await self._session.execute(select(_USERS).where(_USERS.c.id == user_id))).first()
        return await self._user(row._mapping) if row else None

    async def find_credentials(self, email: str) -> tuple[StaffUser, str] | None:
        query = select(_USERS).where(_USERS.c.email_index == self._email_index(email))
        row = (await self._session.execute(query)).first()
        if row is None:
            return None
        return await self._user(row._mapping), row.password_hash

    async def set_password_hash(self, user_id: UserId, password_hash: str) -> None:
        await self._session.execute(
            update(_USERS).where(_USERS.c.id == user_id).values(password_hash=password_hash)
        )

    async def any_with_role(self, role: Role) -> bool:
        query = select(_GRANTS.c.id).where(_GRANTS.c.role == role.value).limit(1)
        return (await self._session.execute(query)).first() is not None

    async def record_failure(
        self, user_id: UserId, now: datetime, *, threshold: int, lock_for: timedelta
    ) -> datetime | None:
        # One statement, so concurrent failures cannot both read the same count.
        locks = _USERS.c.failed_logins + 1 >= threshold
        result = await self._session.execute(
            update(_USERS)
            .where(_USERS.c.id == user_id)
            .values(
                failed_logins=case((locks, 0), else_=_USERS.c.failed_logins + 1),
                locked_until=case((locks, now + lock_for), else_=_USERS.c.locked_until),
            )
            .returning(_USERS.c.failed_logins, _USERS.c.locked_until)
        )
        row = result.one()
        return row.locked_until if row.failed_logins == 0 and row.locked_until else None

    async def clear_failures(self, user_id: UserId) -> None:
        await self._session.execute(
            update(_USERS).where(_USERS.c.id == user_id).values(failed_logins=0, locked_until=None)
        )

    async def update(self, user: StaffUser) -> None:
        result = await self._session.execute(
            update(_USERS)
            .where(_USERS.c.id == user.id, _USERS.c.version == user.version - 1)
            .values(status=user.status.value, version=user.version)
            .returning(_USERS.c.id)
        )
        if result.first() is None:
            raise DomainError(
                ErrorCode.STALE_VERSION, "The user changed meanwhile; reload and retry."
            )
        await self._session.execute(delete(_GRANTS).where(_GRANTS.c.user_id == user.id))
        await self._insert_grants(user.id, user.grants)

    async def page(self, request: PageRequest) -> Page[StaffUser]:
        found = await keyset_page(
            self._session, select(_USERS), [_USERS.c.id], [uuid.UUID], request
        )
        return found.with_items([await self._user(r._mapping) for r in found.items])

    async def active_grants(self, user_id: UserId) -> tuple[Grant, ...] | None:
        """Grants of an active user in one query, or None if the user is missing or disabled."""
        query = (
            select(_USERS.c.status, _GRANTS.c.role, _GRANTS.c.study_id, _GRANTS.c.site_id)
            .select_from(_USERS.outerjoin(_GRANTS, _GRANTS.c.user_id == _USERS.c.id))
            .where(_USERS.c.id == user_id)
        )
        rows = (await self._session.execute(query)).all()
        if not rows or rows[0].status != UserStatus.ACTIVE.value:
            return None
        return tuple(_grant(r._mapping) for r in rows if r.role is not None)

    async def _user(self, row: RowMapping) -> StaffUser:
        grants = await self._session.execute(select(_GRANTS).where(_GRANTS.c.user_id == row["id"]))
        opened = self._cipher.open
        email = await opened(row["id"], "staff_users", "email", row["id"], row["email_sealed"])
        name = await opened(row["id"], "staff_users", "name", row["id"], row["name_sealed"])
        return StaffUser(
            id=row["id"],
            email=email if email is not None else _ERASED,
            name=name if name is not None else _ERASED,
            status=UserStatus(row["status"]),
            created_at=row["created_at"],
            grants=tuple(_grant(g._mapping) for g in grants),
            failed_logins=row["failed_logins"],
            locked_until=row["locked_until"],
            version=row["version"],
        )


def _grant(row: RowMapping) -> Grant:
    return Grant(
        role=Role(row["role"]),
        study_id=StudyId(row["study_id"]) if row["study_id"] else None,
        site_id=SiteId(row["site_id"]) if row["site_id"] else None,
    )
