"""The one generic mapping from domain objects to GraphQL types.

A GraphQL type declares the fields it exposes (an allow-list); this helper copies exactly
those from the domain object, turns `id` into a global id, and keeps the domain object as a
private field for nested resolvers. Fields a type does not declare can never leak.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from api.relay import to_global_id

T = TypeVar("T")

ENTITY_FIELD = "entity"


def expose(cls: type[T], entity: Any, **overrides: Any) -> T:
    kwargs: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not field.init:
            continue
        if field.name in overrides:
            kwargs[field.name] = overrides[field.name]
        elif field.name == ENTITY_FIELD:
            kwargs[field.name] = entity
        elif field.name == "id":
            kwargs["id"] = to_global_id(_graphql_name(cls), entity.id)
        else:
            kwargs[field.name] = getattr(entity, field.name)
    return cls(**kwargs)


def _graphql_name(cls: type[Any]) -> str:
    definition = getattr(cls, "__strawberry_definition__", None)
    return definition.name if definition is not None else cls.__name__
