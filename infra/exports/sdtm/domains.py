"""The SDTM domains Hearth writes, in the order of their datasets. A domain joins here."""

from __future__ import annotations

from infra.exports.sdtm.ae import AdverseEvents
from infra.exports.sdtm.cm import ConcomitantMedications
from infra.exports.sdtm.dm import Demographics
from infra.exports.sdtm.domain import Domain
from infra.exports.sdtm.ds import Disposition
from infra.exports.sdtm.dv import ProtocolDeviations
from infra.exports.sdtm.qs import Questionnaires
from infra.exports.sdtm.sv import SubjectVisits
from infra.exports.sdtm.vs import VitalSigns

DOMAINS: tuple[Domain, ...] = (
    Demographics(),
    Disposition(),
    SubjectVisits(),
    Questionnaires(),
    VitalSigns(),
    AdverseEvents(),
    ConcomitantMedications(),
    ProtocolDeviations(),
)
