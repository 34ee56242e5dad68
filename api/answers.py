"""The one shape of every HTTP answer that is not a GraphQL result: `{"errors": [...]}` with a
stable code, serialised with orjson (so are GraphQL results)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import Response

from domain.errors import ErrorCode

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def _fallback(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def dumps(content: object) -> bytes:
    return orjson.dumps(content, default=_fallback)


class OrjsonResponse(Response):
    """A JSON answer, UTF-8; `media_type` may be GraphQL's own JSON media type."""

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str = JSON,
    ) -> None:
        super().__init__(content, status_code, headers, f"{media_type}; charset=utf-8")

    def render(self, content: Any) -> bytes:
        return dumps(content)


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    extensions: dict[str, Any] = {"code": str(code)}
    if field is not None:
        extensions["field"] = field
    return {"errors": [{"message": message, "extensions": extensions}]}


class Refusal(Exception):
    """A request answered with an error before (or instead of) any GraphQL execution."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.field = field

    def response(self, media_type: str = JSON) -> Response:
        return OrjsonResponse(
            error_body(self.code, self.message, self.field),
            self.status,
            self.headers,
            media_type,
        )


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    return OrjsonResponse(error_body(code, message), status, headers)
