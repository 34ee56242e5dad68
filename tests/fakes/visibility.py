"""The read filter the in-memory fakes apply, as the SQL repositories do."""

from __future__ import annotations

from domain.access import ReadFilter


def _visible(visible: ReadFilter, study: object, site: object = None, who: object = None) -> bool:
    return (
        visible.everything
        or study in visible.study_ids
        or site in visible.site_ids
        or who in visible.participant_ids
    )
