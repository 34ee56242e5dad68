"""The integrator beside the server: `hearth serve` runs it as a child process of its own.

It sequences and seals the audit logs off the server's event loop (and off its processes:
several server workers share one integrator). Stopping the server stops it, and it seals
what is left before it exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

STOP_SECONDS = 30.0


def command() -> list[str]:
    return [sys.executable, "-m", "api.cli.main", "audit", "integrate", "--follow"]


@contextlib.contextmanager
def integrator_process(env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run `hearth audit integrate --follow` while the block runs; stop it gracefully after.

    A session of its own: a Ctrl-C meant for the server reaches the integrator only when the
    server has drained its requests, so their events are sealed too.
    """
    child = subprocess.Popen(  # noqa: S603 - our own command, no shell
        command(), env=env or dict(os.environ), start_new_session=True
    )
    try:
        yield child
    finally:
        stop(child)


def stop(child: subprocess.Popen[bytes]) -> int:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            return child.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
    return child.wait()
