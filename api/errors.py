"""Error contract: stable `extensions.code` on every GraphQL error, and masking of the rest.

Domain errors and GraphQL validation errors keep their message (they never contain
personal data); anything else becomes "Unexpected error." with code INTERNAL_SERVER_ERROR,
and only its type and stack (no message, no values) reach the log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from graphql import GraphQLError
from graphql.error import GraphQLSyntaxError

from domain.errors import DomainError, ErrorCode

log = logging.getLogger("hearth.graphql")

ErrorCodeType = strawberry.enum(ErrorCode, name="ErrorCode", description="Stable error codes.")

T = TypeVar("T")

_CAMEL = re.compile(r"_([a-z])")


def camel(name: str | None) -> str | None:
    return _CAMEL.sub(lambda m: m.group(1).upper(), name) if name else None


@strawberry.type(description="Why a mutation did not happen. Nothing was changed.")
class MutationError:
    code: ErrorCode
    message: str
    field: str | None = strawberry.field(description="The input field at fault, if one is.")

    @classmethod
    def of(cls, error: DomainError) -> MutationError:
        return cls(code=error.code, message=error.message, field=camel(error.field))


async def attempt(action: Callable[[], Awaitable[T]]) -> T | MutationError:
    """Run a mutation's use case; a rule saying no becomes the error member of its union."""
    try:
        return await action()
    except DomainError as error:
        return MutationError.of(error)


# Codes for errors raised before execution (parsing, validation, limits).
_LIMIT_CODES = (
    ("exceeds maximum operation depth", "QUERY_TOO_DEEP"),
    ("aliases found", "TOO_MANY_ALIASES"),
    ("more than", "QUERY_TOO_LARGE"),
    ("introspection has been disabled", "INTROSPECTION_DISABLED"),
)


def _pre_execution_code(error: GraphQLError) -> str:
    text = error.message.lower()
    for needle, code in _LIMIT_CODES:
        if needle in text:
            return code
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    return "GRAPHQL_VALIDATION_FAILED"


def apply_contract(error: GraphQLError) -> None:
    """Give the error its stable code; mask it unless it is a rule or a request mistake.

    Errors are changed in place because this runs from `Schema.process_errors`, the one hook
    strawberry calls for every error, including parse errors raised inside the parser cache,
    which skip the extensions' `on_operation` exit.
    """
    original = error.original_error
    if isinstance(original, DomainError):
        error.message = original.message
        error.extensions = {"code": original.code.value}
        if original.field:
            error.extensions["field"] = camel(original.field)
    elif original is None:
        error.extensions = {"code": _pre_execution_code(error)}
    elif isinstance(original, GraphQLError):  # e.g. variable coercion
        error.extensions = {"code": "BAD_USER_INPUT"}
    else:
        log.error("unexpected error in a resolver", exc_info=original)
        error.message = "Unexpected error."
        error.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        error.original_error = None
