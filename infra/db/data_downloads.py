"""Repository for the participant's data downloads; the archive is sealed with their key."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.data_downloads import DataDownload, DownloadStatus
from domain.errors import DomainError, ErrorCode
from domain.ids import ParticipantId, SiteId, StudyId
from infra.db.data_keys import FieldCipher
from infra.db.tables.data_downloads import DataDownloadRow

_TABLE = DataDownloadRow.__table__  # type: ignore[attr-defined]
_FIELDS = ("status", "ready_at", "used_at", "version")


def _download(row: Any) -> DataDownload:
    return DataDownload(
        id=row.id,
        participant_id=ParticipantId(row.participant_id),
        study_id=StudyId(row.study_id),
        site_id=SiteId(row.site_id),
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        expires_at=row.expires_at,
        status=DownloadStatus(row.status),
        ready_at=row.ready_at,
        used_at=row.used_at,
        version=row.version,
    )


class SqlDataDownloadRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._db = session
        self._cipher = cipher

    async def add(self, download: DataDownload, token_digest: bytes) -> None:
        await self._db.execute(
            insert(_TABLE).values(
                id=download.id,
                participant_id=download.participant_id,
                study_id=download.study_id,
                site_id=download.site_id,
                token_digest=token_digest,
                requested_by=download.requested_by,
                requested_at=download.requested_at,
                expires_at=download.expires_at,
                status=download.status.value,
                version=download.version,
            )
        )

    async def get(self, download_id: uuid.UUID) -> DataDownload | None:
        row = (await self._db.execute(select(_TABLE).where(_TABLE.c.id == download_id))).first()
        return _download(row) if row else None

    async def by_token(self, token_digest: bytes) -> DataDownload | None:
        query = select(_TABLE).where(_TABLE.c.token_digest == token_digest).with_for_update()
        row = (await self._db.execute(query)).first()
        return _download(row) if row else None

    async def update(self, download: DataDownload) -> None:
        values = {f: getattr(download, f) for f in _FIELDS}
        values["status"] = download.status.value
        found = await self._db.execute(
            update(_TABLE)
            .where(_TABLE.c.id == download.id, _TABLE.c.version == download.version - 1)
            .values(**values)
            .returning(_TABLE.c.id)
        )
        if found.first() is None:
            raise DomainError(ErrorCode.STALE_VERSION, "The download changed meanwhile.")

    async def store_file(self, download: DataDownload, archive: bytes) -> None:
        text = base64.b64encode(archive).decode()
        sealed = await self._cipher.seal(
            download.participant_id, "data_downloads", "archive", download.id, text
        )
        await self._db.execute(
            update(_TABLE).where(_TABLE.c.id == download.id).values(archive_sealed=sealed)
        )

    async def file(self, download: DataDownload) -> bytes | None:
        blob = (
            await self._db.execute(
                select(_TABLE.c.archive_sealed).where(_TABLE.c.id == download.id)
            )
        ).scalar_one_or_none()
        if blob is None:
            return None
        text = await self._cipher.open(
            download.participant_id, "data_downloads", "archive", download.id, blob
        )
        return None if text is None else base64.b64decode(text)
