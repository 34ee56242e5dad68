"""What every CLI command shares: its error type, how failures become one line and an exit
status, and the system actor's request context."""

from __future__ import annotations

import socket
from enum import IntEnum

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from domain.actors import Origin, RequestContext, system_actor


class Exit(IntEnum):
    """`hearth`'s exit statuses (the README lists them)."""

    OK = 0
    CHECK_FAILED = 1  # e.g. `audit verify` or `export verify` found a problem
    USAGE = 2  # bad configuration, arguments or input: the message says what to change
    DATABASE = 3  # the database cannot be reached, or refused the connection
    SOFTWARE = 70  # a bug: nothing the operator did
    INTERRUPTED = 130


class CliError(Exception):
    """A message for the operator; printed without a traceback, exit status 2."""


# Errors other parts raise for the operator (e.g. ConfigurationError from the composition
# root, or a key-file error) join by subclassing CliError or being listed here by the CLI.
OPERATOR_ERRORS: tuple[type[Exception], ...] = (CliError,)


def explain(error: BaseException, operator_errors: tuple[type[Exception], ...]) -> tuple[str, Exit]:
    """One line for stderr, and the exit status, for anything a command raised."""
    if isinstance(error, (*OPERATOR_ERRORS, *operator_errors)):
        return str(error), Exit.USAGE
    if isinstance(error, ValidationError):
        return f"configuration: {_settings_problem(error)}", Exit.USAGE
    if _unreachable(error):
        return f"cannot use the database: {_first_line(error)}", Exit.DATABASE
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return f"{error.strerror or _first_line(error)}{where}", Exit.USAGE
    return f"unexpected error ({type(error).__name__}); please report it", Exit.SOFTWARE


def _settings_problem(error: ValidationError) -> str:
    """Which variable is wrong and why, never its value (it may be a password)."""
    problems = []
    for problem in error.errors(include_input=False, include_url=False):
        name = str(problem["loc"][0]) if problem["loc"] else "?"
        variable = "DATABASE_URL" if name == "database_url" else f"HEARTH_{name.upper()}"
        problems.append(f"{variable}: {problem['msg']}")
    return "; ".join(problems)


def _unreachable(error: BaseException) -> bool:
    network = (ConnectionError, socket.gaierror, TimeoutError, DBAPIError)
    return isinstance(error, network) or type(error).__module__.startswith("asyncpg")


def _first_line(error: BaseException) -> str:
    """The reason without SQL, parameters or the driver's prefix."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if text.startswith("(") and ") " in text:
        text = text.split(") ", 1)[1]
    return text[:200]


def operator_context(command: str) -> RequestContext:
    """Operator commands act as the system, and the log says which command it was."""
    return RequestContext(actor=system_actor(), origin=Origin(request_id=f"cli:{command}"))
