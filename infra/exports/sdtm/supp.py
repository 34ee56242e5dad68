"""SUPP-- datasets: the values a domain's standard variables cannot hold, one row each."""

from __future__ import annotations

from infra.exports.sdtm.domain import Domain
from infra.exports.sdtm.variables import Var, identifiers, var

_QUALIFIER = "Record Qualifier"


def supp_variables(domain: Domain) -> tuple[Var, ...]:
    """SUPPQUAL's variables, in SDTMIG order, for `domain`'s supplement."""
    return (
        *identifiers(domain.name, related=True),
        var(
            "IDVAR",
            "Identifying Variable",
            f"{domain.idvar}: the record(s) qualified.",
            role="Identifier",
            core="Exp",
            origin="Assigned",
        ),
        var(
            "IDVARVAL",
            "Identifying Variable Value",
            f"The {domain.idvar} value.",
            role="Identifier",
            core="Exp",
        ),
        var(
            "QNAM",
            "Qualifier Variable Name",
            "; ".join(f"{q.qnam}: {q.notes}" for q in domain.qualifiers),
            role="Topic",
            core="Req",
            origin="Assigned",
        ),
        var(
            "QLABEL",
            "Qualifier Variable Label",
            "The label of QNAM.",
            role="Synonym Qualifier",
            core="Req",
            origin="Assigned",
        ),
        var("QVAL", "Data Value", "The value.", role="Result Qualifier", core="Req"),
        var(
            "QORIG",
            "Origin",
            "Collected, Derived or Assigned.",
            role=_QUALIFIER,
            core="Req",
            origin="Assigned",
        ),
        var("QEVAL", "Evaluator", "Empty: no evaluator.", role=_QUALIFIER, core="Exp"),
    )
