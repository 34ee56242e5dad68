"""Row filters from the access policy, applied in SQL so lists never over-fetch."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, true
from sqlalchemy.sql.elements import ColumnClause

from domain.access import ReadFilter


def visible_rows(
    visible: ReadFilter,
    *,
    study: ColumnClause[object] | None = None,
    site: ColumnClause[object] | None = None,
    participant: ColumnClause[object] | None = None,
) -> ColumnElement[bool]:
    if visible.everything:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if study is not None and visible.study_ids:
        clauses.append(study.in_(visible.study_ids))
    if site is not None and visible.site_ids:
        clauses.append(site.in_(visible.site_ids))
    if participant is not None and visible.participant_ids:
        clauses.append(participant.in_(visible.participant_ids))
    return or_(*clauses) if clauses else false()
