"""`hearth serve`: prepare the database, then serve GraphQL with uvicorn (and, with
`--with-worker`, run one `hearth worker` beside it, stopped with it)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

import uvicorn

from api import app
from api import logging as hearth_logging
from api.cli.common import CliError
from api.metrics import MULTIPROCESS_ENV
from api.settings import Settings
from domain.services import users as user_cases

log = logging.getLogger("hearth.serve")


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="Run the GraphQL server (starts the embedded PostgreSQL if DATABASE_URL is unset).",
        description="Apply migrations, then serve GraphQL on http://HOST:PORT/graphql.",
    )
    parser.add_argument(
        "--host", help="Interface to listen on (default: HEARTH_HOST or 127.0.0.1)."
    )
    parser.add_argument("--port", type=int, help="Port (default: HEARTH_PORT or 8000).")
    parser.add_argument(
        "--workers", type=int, help="Worker processes (default: HEARTH_WORKERS or 1)."
    )
    parser.add_argument("--no-migrate", action="store_true", help="Do not apply migrations first.")
    parser.add_argument(
        "--with-worker",
        action="store_true",
        help="Also run one job worker ('hearth worker'), started and stopped with the server.",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    hearth_logging.configure(settings.log_level)
    updates = {k: v for k in ("host", "port", "workers") if (v := getattr(args, k)) is not None}
    settings = settings.model_copy(update=updates)
    app.check_configuration(settings)
    _ensure_port_free(settings.host, settings.port)
    with _stop_on_sigterm(), app.database(settings, migrate=not args.no_migrate) as ready:
        _banner(ready, asyncio.run(_administrators_exist(ready)))
        _share_metrics(ready)
        worker = _start_worker() if args.with_worker else None
        try:
            uvicorn.run(
                "api.app:app_from_environment",
                factory=True,
                host=ready.host,
                port=ready.port,
                workers=ready.workers,
                log_config=None,
                access_log=False,  # our middleware logs requests without query strings
                server_header=False,
                # X-Forwarded-For is believed only from HEARTH_TRUSTED_PROXIES (api/proxies.py);
                # uvicorn's default would believe any local client.
                proxy_headers=False,
                # Several server processes: one still importing on a busy machine is not hung
                # (uvicorn's 5 s would kill and restart it, again and again).
                timeout_worker_healthcheck=30,
            )
        finally:
            if worker is not None:
                _stop_worker(worker, ready.worker_shutdown_seconds)
    return 0


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """SIGTERM ends the command like Ctrl-C: the worker and the embedded database are
    stopped on the way out. (uvicorn re-raises the signal once it has shut down.)"""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _share_metrics(settings: Settings) -> None:
    """Several server processes: each writes its metrics to files in one directory, and a
    scrape of any of them adds all up (prometheus-client's multiprocess mode)."""
    if settings.workers <= 1 or os.environ.get(MULTIPROCESS_ENV):
        return
    directory = settings.data_dir.resolve() / f"metrics-{settings.port}"
    shutil.rmtree(directory, ignore_errors=True)  # counts of an earlier run
    directory.mkdir(mode=0o700, parents=True)
    os.environ[MULTIPROCESS_ENV] = str(directory)  # server processes inherit it


def _start_worker() -> subprocess.Popen[bytes]:
    """`hearth worker` in a child process, on the database just prepared (DATABASE_URL is
    in the environment by now). It is in our process group: Ctrl-C reaches it too."""
    env = {k: v for k, v in os.environ.items() if k != MULTIPROCESS_ENV}
    command = [sys.executable, "-m", "api.cli.main", "worker"]
    return subprocess.Popen(command, env=env)  # noqa: S603 - our own command


def _stop_worker(worker: subprocess.Popen[bytes], shutdown_seconds: float) -> None:
    """Ask the worker to stop (a second request is harmless) and wait until it has."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=shutdown_seconds + 15)
    except subprocess.TimeoutExpired:
        log.error("the worker did not stop in time; killing it")
        worker.kill()
        worker.wait()


def _ensure_port_free(host: str, port: int) -> None:
    """Say so now, in one line, rather than after migrating and from inside uvicorn."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise CliError(f"cannot listen on {host}:{port}: {error.strerror}") from None


async def _administrators_exist(settings: Settings) -> bool:
    runtime = app.build_runtime(settings)
    try:
        return await user_cases.administrators_exist(uow=runtime.services.uow())
    finally:
        await runtime.close()


def _banner(settings: Settings, has_admin: bool) -> None:
    where = "embedded PostgreSQL" if settings.embedded else "DATABASE_URL"
    lines = [
        f"Hearth is serving GraphQL at http://{settings.host}:{settings.port}/graphql ({where}).",
    ]
    if not settings.is_production:
        lines.append("Open that URL in a browser for the offline GraphQL console.")
    if has_admin:
        lines.append(
            'Sign in with: mutation { login(input: {email: "...", password: "..."}) { ... } }'
        )
    else:
        lines.append(
            "No administrator yet. In another terminal, in this directory, create one with:\n"
            "    hearth users create-admin --email you@example.org --name 'Your Name'\n"
            "then sign in with the `login` mutation and send 'Authorization: Bearer <token>'."
        )
    print("\n".join(lines), flush=True)
