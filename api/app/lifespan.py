"""The server's startup and shutdown: refuse foreign keys, seal legacy identifiers and start
the change feed before serving; stop it, seal the audit log and close after."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from starlette.applications import Starlette

from api.app.runtime import Runtime
from infra.changefeed.hub import ChangeHub

log = logging.getLogger("hearth")

Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


def lifespan(runtime: Runtime, hub: ChangeHub) -> Lifespan:
    @contextlib.asynccontextmanager
    async def serving(app: Starlette) -> AsyncIterator[None]:
        await runtime.bind_keys()  # a wrong key file: refuse to start, serve nothing
        # Before serving: nothing may be read or written next to unsealed identifiers.
        await runtime.seal_legacy_identifiers()
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()
            await _seal_on_shutdown(runtime)
            await runtime.close()

    return serving


async def _seal_on_shutdown(runtime: Runtime) -> None:
    """The requests have drained: put their events in their logs and seal, so a graceful
    stop leaves no unsealed tail (the integrator process does the same when it stops)."""
    try:
        await runtime.seal_checkpoints()
    except Exception:
        log.exception("sealing the audit log at shutdown failed")
