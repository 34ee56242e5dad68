"""Cheap change detection for one site: the newest event written about it.

The console's live stream waits on `wait_for_site_change`; a cross-process change feed can
replace its body without touching the callers.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from domain.ids import SiteId
from infra.db.tables.audit import AuditEventRow


class SqlSiteChanges:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        poll_seconds: float = 1.0,
        timeout_seconds: float = 20.0,
    ) -> None:
        self.sessions = sessions
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds

    async def newest(self, site_id: SiteId) -> int:
        """The ingest position of the newest event about the site (0 when there is none)."""
        async with self.sessions() as session:
            newest = await session.scalar(
                select(func.max(col(AuditEventRow.ingest))).where(
                    col(AuditEventRow.site_id) == site_id
                )
            )
        return int(newest or 0)

    async def wait_for_site_change(self, site_id: SiteId, since: int) -> int | None:
        waited = 0.0
        while waited < self.timeout_seconds:
            newest = await self.newest(site_id)
            if newest > since:
                return newest
            await asyncio.sleep(self.poll_seconds)
            waited += self.poll_seconds
        return None
