"""Ports for the participant's data download: where requests and built files are kept, and
what turns the participant's data into files."""

from __future__ import annotations

import uuid
from typing import Protocol

from domain.data_downloads import DataDownload, MyData


class DataDownloadRepository(Protocol):
    async def add(self, download: DataDownload, token_digest: bytes) -> None: ...
    async def get(self, download_id: uuid.UUID) -> DataDownload | None: ...
    async def by_token(self, token_digest: bytes) -> DataDownload | None:
        """The download whose link has this digest, locked for the rest of the transaction."""
        ...

    async def update(self, download: DataDownload) -> None: ...
    async def store_file(self, download: DataDownload, archive: bytes) -> None:
        """Keep the built archive, sealed with the participant's key."""
        ...

    async def file(self, download: DataDownload) -> bytes | None: ...


class MyDataRenderer(Protocol):
    def archive(self, data: MyData) -> bytes:
        """A ZIP with the FHIR Bundle (bundle.json) and a readable page (index.html)."""
        ...
