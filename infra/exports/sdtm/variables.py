"""SDTM variables as data: name, label, type, origin, how Hearth fills it, and the SDTMIG 3.4
role and core (Req, Exp, Perm) that define.xml and the conformance tests read."""

from __future__ import annotations

import re
from typing import NamedTuple

MAX_LABEL = 40
MAX_TEXT = 200  # SAS V5 transport limit: no character value is longer
TESTCD_PATTERN = re.compile(r"[A-Z_][A-Z0-9_]{0,7}")


class Var(NamedTuple):
    """One dataset variable."""

    name: str
    label: str
    type: str  # Char or Num
    origin: str  # Assigned, Collected or Derived (Define-XML origin types)
    notes: str
    role: str  # SDTMIG role: Identifier, Topic, Record Qualifier, Timing, ...
    core: str  # Req, Exp or Perm
    data_type: str  # Define-XML DataType: text, integer, float, date, datetime


def var(
    name: str,
    label: str,
    notes: str,
    *,
    role: str,
    core: str = "Perm",
    origin: str = "Derived",
    data_type: str = "text",
) -> Var:
    kind = "Num" if data_type in ("integer", "float") else "Char"
    return Var(name, label, kind, origin, notes, role, core, data_type)


def identifiers(domain: str, *, related: bool = False) -> tuple[Var, ...]:
    """STUDYID, DOMAIN (RDOMAIN in a SUPP-- dataset) and USUBJID: the same in every dataset."""
    name, label = ("RDOMAIN", "Related Domain Abbreviation") if related else ("DOMAIN", "")
    return (
        var(
            "STUDYID",
            "Study Identifier",
            "The study code.",
            role="Identifier",
            core="Req",
            origin="Assigned",
        ),
        var(
            name,
            label or "Domain Abbreviation",
            f"Always {domain}.",
            role="Identifier",
            core="Req",
            origin="Assigned",
        ),
        var(
            "USUBJID",
            "Unique Subject Identifier",
            "STUDYID-SUBJID (pseudonymous).",
            role="Identifier",
            core="Req",
        ),
    )


def sequence(domain: str, notes: str) -> Var:
    return var(
        f"{domain}SEQ", "Sequence Number", notes, role="Identifier", core="Req", data_type="integer"
    )
