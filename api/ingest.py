"""POST /ingest/readings: a participant's backlog of device readings as NDJSON, gzip welcome.

One JSON object per line, in the same shape as the `submitReadings` mutation's items
(`deviceId`, `kind`, `sourceId`, `body`, optional `deviceTime`), with the same per-item
outcomes. Limits answer before any work: 401/403 for the wrong caller, 429 with Retry-After
past the write limits or when the server is busy with other uploads, 413 past the size or
item limits (compressed and decompressed), 415 for another media type.
"""

from __future__ import annotations

import asyncio
import io
import json
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.answers import OrjsonResponse
from api.http import authenticate, refused
from api.limits import RateLimited, check_writes
from api.relay import to_global_id
from api.services import Services
from api.types.devices import device_item
from domain.actors import ActorKind, RequestContext
from domain.errors import DomainError, ErrorCode
from domain.intake import READINGS, Outcome
from domain.services import readings as cases

MEDIA_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/json-lines"})
BUSY_RETRY_SECONDS = 2
MAX_LINE_BYTES = 16_384  # one reading is a few hundred bytes


@dataclass
class _Refusal(Exception):
    status: int
    code: str
    message: str
    retry_after: int | None = None

    def response(self) -> Response:
        headers = {"retry-after": str(self.retry_after)} if self.retry_after else None
        body = {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}
        return JSONResponse(body, status_code=self.status, headers=headers)


@dataclass(frozen=True)
class _Line:
    number: int  # 1-based line of the upload
    item: object | None  # None: the line is not JSON


class ReadingUpload:
    """The endpoint. One per application: `busy` bounds the uploads processed at once."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.busy = asyncio.Semaphore(services.settings.ingest_concurrency)

    async def handle(self, request: Request) -> Response:
        try:
            caller = await authenticate(request, self.services)
        except DomainError as error:
            return refused(error)
        if caller.actor.kind is ActorKind.ANONYMOUS:
            return refused(DomainError(ErrorCode.UNAUTHENTICATED, "Authentication required."))
        try:
            if caller.actor.kind is not ActorKind.PARTICIPANT:
                raise _Refusal(403, "FORBIDDEN", "Readings come from the participant's app.")
            _media_type(request)
            await _limits(self.services, request, caller)
            if self.busy.locked():
                raise _Refusal(
                    429,
                    "SERVER_BUSY",
                    "Other uploads are being processed; try again shortly.",
                    BUSY_RETRY_SECONDS,
                )
            async with self.busy:
                body = await _body(request, self.services.settings.ingest_max_bytes)
                # Parsing is CPU work: off the event loop, so other requests keep flowing.
                lines = await asyncio.to_thread(_lines, body)
                parsed = [line for line in lines if line.item is not None]
                done = await cases.ingest(
                    uow=self.services.uow(),
                    ctx=caller,
                    items=[device_item(line.item) for line in parsed],  # type: ignore[arg-type]
                )
        except _Refusal as refusal:
            return refusal.response()
        except DomainError as error:
            return _Refusal(400, error.code.value, error.message).response()
        report = _report(lines, parsed, done)
        receipt = await self.services.receipts.receipt("ReadingBatch", done.batch_id)
        report["receipt"] = (
            None
            if receipt is None
            else {"log": receipt.log, "eventId": str(receipt.event_id), "digest": receipt.digest}
        )
        return OrjsonResponse(report)


def _media_type(request: Request) -> None:
    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if declared not in MEDIA_TYPES:
        raise _Refusal(
            415, "UNSUPPORTED_MEDIA_TYPE", "Send application/x-ndjson: one JSON object a line."
        )
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in {"identity", "gzip"}:
        raise _Refusal(415, "UNSUPPORTED_MEDIA_TYPE", "Send the body plain or gzip-compressed.")


async def _limits(services: Services, request: Request, caller: RequestContext) -> None:
    try:
        await check_writes(services, request, caller)
    except RateLimited as limited:
        raise _Refusal(429, "RATE_LIMITED", limited.message, limited.retry_after) from None


async def _body(request: Request, limit: int) -> bytes:
    """The upload, inflated when gzip, never more than `limit` bytes either way."""
    gzipped = request.headers.get("content-encoding", "").strip().lower() == "gzip"
    inflater = _Inflater(limit) if gzipped else None
    parts: list[bytes] = []
    size = 0
    async for chunk in _chunks(request):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        parts.append(inflater.feed(chunk) if inflater else chunk)
    if inflater:
        parts.append(inflater.finish())
    return b"".join(parts)


async def _chunks(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


def _too_large(limit: int) -> _Refusal:
    return _Refusal(413, "PAYLOAD_TOO_LARGE", f"Uploads are limited to {limit} bytes.")


class _Inflater:
    """gzip (one or several members) inflated with a hard cap against decompression bombs."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.stream = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        while data:
            try:
                piece = self.stream.decompress(data, self.limit - self.size + 1)
            except zlib.error:
                raise _Refusal(400, "INVALID_GZIP", "The body is not valid gzip.") from None
            self.size += len(piece)
            if self.size > self.limit:
                raise _too_large(self.limit)
            out.append(piece)
            if self.stream.unconsumed_tail:
                data = self.stream.unconsumed_tail
            elif self.stream.eof and self.stream.unused_data:  # the next gzip member
                data = self.stream.unused_data
                self.stream = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            else:
                data = b""
        return b"".join(out)

    def finish(self) -> bytes:
        if not self.stream.eof:
            raise _Refusal(400, "INVALID_GZIP", "The gzip stream ends early.")
        return b""


def _lines(body: bytes) -> list[_Line]:
    """Count the lines before parsing any: too many is refused without the work."""
    raw_lines: list[tuple[int, bytes]] = []
    for number, line in enumerate(io.BytesIO(body), start=1):  # lazily, line by line
        text = line.strip()
        if not text:
            continue
        if len(raw_lines) == READINGS.size:
            raise _Refusal(
                413, "TOO_MANY_ITEMS", f"Send at most {READINGS.size} readings at a time."
            )
        raw_lines.append((number, text))
    return [_Line(n, _parsed(raw)) for n, raw in raw_lines]


def _parsed(raw: bytes) -> object | None:
    """One JSON object, numbers as exact decimals; anything else (too long, too deep, not
    JSON, not an object) is None and answered INVALID_JSON."""
    if len(raw) > MAX_LINE_BYTES:
        return None
    try:
        item: object = json.loads(raw, parse_float=Decimal)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return item if isinstance(item, dict) else None


def _report(lines: list[_Line], parsed: list[_Line], done: cases.Ingested) -> dict[str, Any]:
    by_line = {parsed[o.index].number: o for o in done.items}
    results = []
    for index, line in enumerate(lines):
        outcome = by_line.get(line.number)
        if outcome is None:
            results.append(
                {
                    "index": index,
                    "line": line.number,
                    "outcome": Outcome.REJECTED.value,
                    "code": "INVALID_JSON",
                    "field": None,
                    "message": "Each line must be one JSON object (at most 16 kB).",
                    "readingId": None,
                }
            )
            continue
        results.append(
            {
                "index": index,
                "line": line.number,
                "outcome": outcome.outcome.value,
                "code": outcome.code,
                "field": outcome.field,
                "message": outcome.message,
                "readingId": to_global_id("Reading", outcome.reading_id)
                if outcome.reading_id
                else None,
            }
        )
    counts = {o: sum(r["outcome"] == o.value for r in results) for o in Outcome}
    return {
        "batchId": str(done.batch_id),
        "accepted": counts[Outcome.ACCEPTED],
        "quarantined": counts[Outcome.QUARANTINED],
        "duplicates": counts[Outcome.DUPLICATE],
        "rejected": counts[Outcome.REJECTED],
        "results": results,
    }
