"""What every CLI command shares: its error type and the system actor's request context."""

from __future__ import annotations

from domain.actors import Origin, RequestContext, system_actor


class CliError(Exception):
    """A message for the operator; printed without a traceback, exit status 2."""


def operator_context(command: str) -> RequestContext:
    """Operator commands act as the system, and the log says which command it was."""
    return RequestContext(actor=system_actor(), origin=Origin(request_id=f"cli:{command}"))
