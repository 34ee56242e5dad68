"""The declarative base with a constraint naming convention, so migrations are deterministic."""

from __future__ import annotations

from typing import Any

from sqlalchemy import DateTime, MetaData
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(SQLModel, registry=registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))):
    pass


def timestamp(**kwargs: Any) -> Any:
    """A `timestamptz` column: every stored time carries its offset."""
    return Field(sa_type=DateTime(timezone=True), **kwargs)
