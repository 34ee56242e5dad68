"""Per-request GraphQL context: the caller, the services, and request-scoped loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

import strawberry
from starlette.requests import HTTPConnection
from starlette.responses import Response

from api.loaders import Loaders
from api.services import Services
from domain.actors import RequestContext


@dataclass
class Context:
    request: HTTPConnection  # the HTTP request, or the socket of a subscription
    response: Response
    services: Services
    caller: RequestContext
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.services.uow, self.caller)


Info: TypeAlias = strawberry.Info[Context, None]
