"""Use cases for ePRO diaries, one module per job: planning and what is due (`planning`),
submissions (`submission`, judged entry by entry in `intake`), reading entries (`entries`)
and corrections (`corrections`). The names below are the ones callers use."""

from domain.services.diaries.corrections import change_requests, correct_entry
from domain.services.diaries.entries import entries, entry_scope, free_text, get_entry
from domain.services.diaries.planning import (
    Due,
    compliance,
    create_schedule,
    due,
    schedules,
    site_compliance,
)
from domain.services.diaries.submission import submit

__all__ = [
    "Due",
    "change_requests",
    "compliance",
    "correct_entry",
    "create_schedule",
    "due",
    "entries",
    "entry_scope",
    "free_text",
    "get_entry",
    "schedules",
    "site_compliance",
    "submit",
]
