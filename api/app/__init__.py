"""The composition root: the one package that wires infrastructure into the API and the CLI.

Its modules, one job each: configuration (what the settings mean, ConfigurationError),
runtime (what everything acts through), server (the ASGI application) with its routes,
lifespan and health, worker (the job worker and its loops) and operator (the CLI's tasks).
Everything the CLI, the tests and the benchmarks use is importable from here."""

from __future__ import annotations

from api.app.configuration import OPERATOR_ERRORS, ConfigurationError, check_configuration
from api.app.operator import (
    EMBEDDED_DATABASE,
    database,
    embedded_server,
    export_public_key,
    migrate_database,
    schema_sdl_text,
    verify_exported,
)
from api.app.routes import INGEST_PATH
from api.app.runtime import AuditProblem, AuditReport, Runtime, build_runtime
from api.app.server import app_from_environment, create_app
from api.app.worker import Worker, WorkerFailed, build_worker, new_vapid_keys, reminder_channels
from infra.eventlog.checkpoints import Checkpoint
from infra.eventlog.integrator import Integration, Integrator
from infra.eventlog.proofs import ConsistencyProof, InclusionProof, ProofError
from infra.eventlog.service import LogStatus

__all__ = [
    "EMBEDDED_DATABASE",
    "INGEST_PATH",
    "OPERATOR_ERRORS",
    "AuditProblem",
    "AuditReport",
    "Checkpoint",
    "ConfigurationError",
    "ConsistencyProof",
    "InclusionProof",
    "Integration",
    "Integrator",
    "LogStatus",
    "ProofError",
    "Runtime",
    "Worker",
    "WorkerFailed",
    "app_from_environment",
    "build_runtime",
    "build_worker",
    "check_configuration",
    "create_app",
    "database",
    "embedded_server",
    "export_public_key",
    "migrate_database",
    "new_vapid_keys",
    "reminder_channels",
    "schema_sdl_text",
    "verify_exported",
]
