"""The listening side of the change feed: one LISTEN connection per process, fanned out.

    hub = ChangeHub(database_url)
    await hub.start()
    async for notice in hub.listen(site_ids):   # e.g. a server-rendered console
        ...                                     # load the record through the authorized path
    await hub.stop()

`listen(site_ids)` yields every `ChangeNotice` of those sites; `None` listens to every site,
and only such a listener receives notices without a site (e.g. a study-wide export).
Notices are ids only: a consumer must load what it shows through the normal authorized
read path and check access again for every notice. Each listener has its own bounded
asyncio queue; a listener too slow to keep up loses the oldest notices rather than holding
up the others. If the LISTEN connection is lost, the hub reconnects with a short backoff;
notices sent while it was away are not replayed (read the event log for history).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator, Collection

import asyncpg

from infra.changefeed.notify import CHANNEL, ChangeNotice

_log = logging.getLogger("hearth.changefeed")


class ChangeHub:
    def __init__(self, database_url: str, *, queue_size: int = 1000) -> None:
        self._url = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._queue_size = queue_size
        self._queues: dict[asyncio.Queue[ChangeNotice], frozenset[uuid.UUID] | None] = {}
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    @property
    def listeners(self) -> int:
        return len(self._queues)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="changefeed")
        await asyncio.wait_for(self._connected.wait(), timeout=10)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def listen(
        self, site_ids: Collection[uuid.UUID] | None = None
    ) -> AsyncGenerator[ChangeNotice, None]:
        queue: asyncio.Queue[ChangeNotice] = asyncio.Queue(self._queue_size)
        self._queues[queue] = None if site_ids is None else frozenset(site_ids)
        try:
            while True:
                yield await queue.get()
        finally:
            del self._queues[queue]

    def _deliver(self, notice: ChangeNotice) -> None:
        for queue, sites in self._queues.items():
            if sites is not None and notice.site_id not in sites:
                continue
            if queue.full():
                queue.get_nowait()  # drop the oldest for this slow listener only
            queue.put_nowait(notice)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            notice = ChangeNotice.from_payload(payload)
        except (ValueError, KeyError, TypeError):
            _log.warning("changefeed: ignored a malformed notice")
            return
        self._deliver(notice)

    async def _run(self) -> None:
        delay = 0.1
        while True:
            connection = None
            try:
                connection = await asyncpg.connect(self._url)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _c, event=lost: event.set())
                await connection.add_listener(CHANNEL, self._on_notify)
                self._connected.set()
                delay = 0.1
                await lost.wait()
                _log.warning("changefeed: connection lost, reconnecting")
            except (OSError, asyncpg.PostgresError) as error:
                _log.warning("changefeed: cannot listen (%s), retrying", type(error).__name__)
            finally:
                self._connected.clear()
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
