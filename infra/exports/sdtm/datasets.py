"""The datasets of the SDTM export: each domain's, then the SUPP-- datasets of those with
supplemental qualifiers (written only when they have rows)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from infra.exports.sdtm.domain import Domain
from infra.exports.sdtm.domains import DOMAINS
from infra.exports.sdtm.supp import supp_variables
from infra.exports.sdtm.variables import Var


@dataclass(frozen=True)
class Dataset:
    name: str
    label: str
    variables: tuple[Var, ...]
    klass: str
    structure: str
    keys: tuple[str, ...]
    always: bool  # written even without rows (the domains); SUPP-- only with rows
    domain: Domain

    @property
    def header(self) -> list[str]:
        return [v.name for v in self.variables]


def _supp(domain: Domain) -> Dataset:
    return Dataset(
        name=f"SUPP{domain.name}",
        label=f"Supplemental Qualifiers for {domain.name}",
        variables=supp_variables(domain),
        klass="RELATIONSHIP",
        structure="One record per IDVAR, IDVARVAL, and QNAM value per subject",
        keys=("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM"),
        always=False,
        domain=domain,
    )


ALL: tuple[Dataset, ...] = (
    *(
        Dataset(d.name, d.label, d.variables, d.klass, d.structure, d.keys, True, d)
        for d in DOMAINS
    ),
    *(_supp(d) for d in DOMAINS if d.qualifiers),
)
DATASETS: Mapping[str, tuple[Var, ...]] = {d.name: d.variables for d in ALL}
