"""Persisted queries: the app sends a SHA-256 hash instead of the query text.

Automatic Persisted Queries (Apollo's protocol): the app sends
`extensions.persistedQuery = {version: 1, sha256Hash}` alone; an unknown hash is answered
`PERSISTED_QUERY_NOT_FOUND`, the app sends the query again with its hash, and the server
keeps it (in memory, per process, bounded) for next time. Registered operations (an Apollo
persisted query manifest, HEARTH_PERSISTED_QUERIES_FILE) are always known; in `registered`
mode they are the only operations that run (an allow-list for production).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

from graphql import GraphQLError

from api.answers import Refusal
from api.operations import OperationRequest
from api.settings import PersistedQueries
from domain.errors import DomainError, ErrorCode

MANIFEST_FORMAT = "apollo-persisted-query-manifest"
CACHE_SIZE = 2000  # queries learnt per process
MAX_LEARNT_LENGTH = 20_000  # longer queries run, but are not kept
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class PersistedQueryError(ValueError):
    """The manifest cannot be used; raised at start-up."""


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


class PersistedQueryStore:
    def __init__(self, mode: PersistedQueries, registered: dict[str, str] | None = None) -> None:
        self.mode = mode
        self.registered = dict(registered or {})
        self.learnt: OrderedDict[str, str] = OrderedDict()
        if mode is PersistedQueries.REGISTERED and not self.registered:
            raise PersistedQueryError(
                "HEARTH_PERSISTED_QUERIES=registered needs HEARTH_PERSISTED_QUERIES_FILE."
            )

    def query_of(self, operation: OperationRequest) -> str:
        """The text to run; GraphQLError for a hash Hearth does not know (a request error)."""
        digest = _requested_hash(operation.extensions)
        if digest is None:
            return self._plain(operation.query)
        if self.mode is PersistedQueries.OFF:
            raise _error(ErrorCode.PERSISTED_QUERY_NOT_SUPPORTED, "PersistedQueryNotSupported")
        if operation.query is None:
            return self._known(digest)
        if sha256(operation.query) != digest:
            raise _error(ErrorCode.PERSISTED_QUERY_MISMATCH, "The hash is not the query's SHA-256.")
        return self._plain(operation.query)

    def learn(self, query: str) -> None:
        """Keep a query that parsed, for its hash to be enough next time."""
        if self.mode is not PersistedQueries.AUTOMATIC or len(query) > MAX_LEARNT_LENGTH:
            return
        digest = sha256(query)
        if digest in self.registered:
            return
        self.learnt[digest] = query
        self.learnt.move_to_end(digest)
        while len(self.learnt) > CACHE_SIZE:
            self.learnt.popitem(last=False)

    def _plain(self, query: str | None) -> str:
        if query is None:  # pragma: no cover - read_operations refuses this
            raise Refusal(400, ErrorCode.INVALID_REQUEST, "The request has no 'query'.")
        if self.mode is PersistedQueries.REGISTERED and sha256(query) not in self.registered:
            raise _error(ErrorCode.PERSISTED_QUERY_REQUIRED, "Only registered operations run here.")
        return query

    def _known(self, digest: str) -> str:
        query = self.registered.get(digest)
        if query is None and self.mode is PersistedQueries.AUTOMATIC:
            query = self.learnt.get(digest)
            if query is not None:
                self.learnt.move_to_end(digest)
        if query is None:
            raise _error(ErrorCode.PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound")
        return query


def _requested_hash(extensions: dict[str, Any] | None) -> str | None:
    if not extensions or extensions.get("persistedQuery") is None:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise Refusal(400, ErrorCode.INVALID_REQUEST, "persistedQuery.version must be 1.")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256.match(digest):
        raise Refusal(
            400, ErrorCode.INVALID_REQUEST, "persistedQuery.sha256Hash must be 64 hex digits."
        )
    return digest


def _error(code: ErrorCode, message: str) -> GraphQLError:
    # Apollo clients look for these messages ("PersistedQueryNotFound") as well as the code.
    return GraphQLError(message, original_error=DomainError(code, message))


def load_manifest(path: Path) -> dict[str, str]:
    """{sha256: query} from an Apollo persisted query manifest; every id is checked."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise PersistedQueryError(f"Cannot read the persisted query file {path}.") from error
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise PersistedQueryError(f"{path} is not an {MANIFEST_FORMAT} (version 1).")
    registered: dict[str, str] = {}
    for entry in manifest.get("operations") or []:
        body = entry.get("body") if isinstance(entry, dict) else None
        if not isinstance(body, str) or entry.get("id") != sha256(body):
            raise PersistedQueryError(f"{path}: an operation's id is not its body's SHA-256.")
        registered[entry["id"]] = body
    return registered
