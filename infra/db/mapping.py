"""Mapping frozen domain dataclasses to row values."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any


def row_values(entity: Any, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Column values for a dataclass whose field names are the column names."""
    return {
        f.name: _column_value(getattr(entity, f.name))
        for f in dataclasses.fields(entity)
        if f.name not in exclude
    }


def _column_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value
