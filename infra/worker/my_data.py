"""The data download task: build one participant's archive."""

from __future__ import annotations

import uuid

from domain.actors import RequestContext
from domain.services import data_downloads as cases
from infra.exports.fhir.my_data import FhirMyData
from infra.worker.services import WorkerServices


async def build(services: WorkerServices, ctx: RequestContext, *, download_id: str) -> None:
    await cases.build(
        uows=services.uows, renderer=FhirMyData(), ctx=ctx, download_id=uuid.UUID(download_id)
    )
