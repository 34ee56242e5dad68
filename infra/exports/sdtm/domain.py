"""The skeleton every SDTM domain writer fills in, and what it writes into.

A domain is a module with one `Domain` subclass: its name, label, class and structure, its
variables in SDTMIG order, the SUPP-- qualifiers for what the standard variables cannot hold,
and `write`, which turns one subject into rows. The writers run every domain of `DOMAINS`
(`infra/exports/sdtm/domains.py`) over each subject, into CSV tables (the SDTM format) or
Dataset-JSON tables (the DATASET_JSON format); a new domain (AE, CM, DV, ...) joins by adding
its module and its line there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, NamedTuple, Protocol

from infra.exports.model import Subject
from infra.exports.sdtm.study import SubjectContext
from infra.exports.sdtm.variables import Var


class Qualifier(NamedTuple):
    """A supplemental qualifier (a SUPP-- QNAM)."""

    qnam: str  # at most 8 characters
    qlabel: str  # at most 40
    origin: str  # QORIG: Collected, Assigned or Derived
    notes: str


class Table(Protocol):
    """Where one dataset's rows go: a CSV file, a Dataset-JSON file."""

    def row(self, values: Sequence[object]) -> None: ...


class Output:
    """What a domain writes into: its dataset, and its SUPP-- dataset when it has one."""

    def __init__(self, domain: Domain, table: Table, supp: Table | None) -> None:
        self.table = table
        self.row = table.row
        self._supp = supp
        self._domain = domain
        self._labels = {q.qnam: q for q in domain.qualifiers}

    def supp(self, who: SubjectContext, idvarval: object, qnam: str, value: str) -> None:
        """One supplemental value of the record (or group) that `idvarval` names."""
        assert self._supp is not None, f"{self._domain.name} has no SUPP-- qualifiers"
        qualifier = self._labels[qnam]
        self._supp.row(
            (
                who.study_id,
                self._domain.name,
                who.usubjid,
                self._domain.idvar,
                idvarval,
                qnam,
                qualifier.qlabel,
                value,
                qualifier.origin,
                "",
            )
        )


class Domain(ABC):
    name: ClassVar[str]  # DM, SV, ...
    label: ClassVar[str]
    klass: ClassVar[str]  # Define-XML def:Class: SPECIAL PURPOSE, FINDINGS, EVENTS, ...
    structure: ClassVar[str]  # def:Structure: "One record per subject", ...
    variables: ClassVar[tuple[Var, ...]]
    keys: ClassVar[tuple[str, ...]]  # the natural key, for define.xml KeySequence
    qualifiers: ClassVar[tuple[Qualifier, ...]] = ()
    idvar: ClassVar[str] = ""  # the variable SUPP-- rows point at (IDVAR)

    @abstractmethod
    async def write(self, who: SubjectContext, subject: Subject, out: Output) -> None:
        """Write one subject's rows, in the order their --SEQ numbers run."""
