"""Reading GraphQL requests off HTTP (GraphQL over HTTP): GET parameters or a JSON body, one
operation or a batch. Whatever cannot be read is refused here with a stable code and
nothing runs: wrong media type (415), not UTF-8 or not JSON (400), not a GraphQL request
(400), too many operations in a batch (400)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.datastructures import QueryParams
from starlette.requests import Request

from api.answers import Refusal
from domain.errors import ErrorCode


@dataclass(frozen=True)
class OperationRequest:
    """One operation as the client sent it: the query may be missing (a persisted query)."""

    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None


async def read(request: Request, max_batch: int) -> tuple[list[OperationRequest], bool]:
    """(the operations, whether the client sent a batch)."""
    if request.method == "GET":
        return [_from_params(request.query_params)], False
    data = _json(await _utf8_body(request))
    if isinstance(data, list):
        return _batch(data, max_batch), True
    return [_operation(data)], False


async def _utf8_body(request: Request) -> str:
    _require_json_media_type(request.headers.get("content-type"))
    body = await request.body()
    if not body.strip():
        raise _invalid("Send the GraphQL request as a JSON body.")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(
            400, ErrorCode.INVALID_ENCODING, "The request body is not valid UTF-8."
        ) from None


def _require_json_media_type(declared: str | None) -> None:
    media, _, parameters = (declared or "").partition(";")
    charset = _parameter(parameters, "charset")
    if media.strip().lower() != "application/json" or charset not in (None, "utf-8", "utf8"):
        raise Refusal(
            415,
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            "Send GraphQL requests as application/json (UTF-8), or as GET parameters.",
        )


def _parameter(parameters: str, name: str) -> str | None:
    for part in parameters.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"').lower()
    return None


def _json(text: str) -> object:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise Refusal(400, ErrorCode.INVALID_JSON, "The request body is not valid JSON.") from None


def _batch(items: list[object], max_batch: int) -> list[OperationRequest]:
    if not items:
        raise _invalid("A batch needs at least one operation.")
    if len(items) > max_batch:
        raise Refusal(
            400,
            ErrorCode.TOO_MANY_OPERATIONS,
            f"A batch may hold at most {max_batch} operations.",
        )
    return [_operation(item) for item in items]


def _operation(data: object) -> OperationRequest:
    if not isinstance(data, dict):
        raise _invalid("A GraphQL request is a JSON object with a 'query'.")
    query = _typed(data, "query", str)
    extensions = _typed(data, "extensions", dict)
    if query is None and not (extensions and "persistedQuery" in extensions):
        raise _invalid("The request has no 'query'.")
    return OperationRequest(
        query=query,
        variables=_typed(data, "variables", dict),
        operation_name=_typed(data, "operationName", str) or None,  # "" names nothing
        extensions=extensions,
    )


def _typed(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if value is not None and not isinstance(value, kind):
        name = "a string" if kind is str else "an object"
        raise _invalid(f"'{key}' must be {name} or null.")
    return value


def _from_params(params: QueryParams) -> OperationRequest:
    data: dict[str, Any] = {
        "query": params.get("query"),
        "operationName": params.get("operationName"),
    }
    for key in ("variables", "extensions"):
        text = params.get(key)
        if text:
            try:
                data[key] = orjson.loads(text)
            except orjson.JSONDecodeError:
                raise _invalid(f"'{key}' must be a JSON object.") from None
    return _operation(data)


def _invalid(message: str) -> Refusal:
    return Refusal(400, ErrorCode.INVALID_REQUEST, message)
