"""AdminData: the users, locations and signature meanings the clinical data referred to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import IO

from domain.signatures import MEANING_TEXT, Meaning
from infra.exports.odm.catalog import Catalog
from infra.exports.odm.text import LEGAL_REASON, SOURCE_SYSTEM, USR_SYSTEM, USR_UNKNOWN, esc
from infra.exports.streaming import OutputFile

# -- admin data -------------------------------------------------------------------------------


@dataclass
class Admin:
    """Users, locations and meanings the clinical data referred to, for AdminData."""

    catalog: Catalog
    participants: IO[bytes]  # <User> elements of participants, written while streaming
    extra_staff: dict[uuid.UUID, str | None] = field(default_factory=dict)
    generic_users: set[str] = field(default_factory=set)
    unknown_sites: set[uuid.UUID] = field(default_factory=set)
    meanings: set[str] = field(default_factory=lambda: {m.value for m in Meaning})

    def staff(self, staff_id: uuid.UUID, name: str | None = None) -> str:
        if staff_id not in self.catalog.meta.staff and (
            name is not None or staff_id not in self.extra_staff
        ):
            self.extra_staff[staff_id] = name
        return f"USR.{staff_id}"

    def generic(self, oid: str) -> str:
        self.generic_users.add(oid)
        return oid

    def location(self, site_id: uuid.UUID) -> str:
        if site_id not in self.catalog.sites:
            self.unknown_sites.add(site_id)
        return self.catalog.site_oid(site_id)

    def signature_def(self, meaning: str) -> str:
        self.meanings.add(meaning)
        return f"SD.{esc(meaning)}"

    def write(self, output: OutputFile) -> None:
        output.write("<AdminData>\n" + self._staff_users())
        output.copy_from(self.participants)
        output.write(self._locations() + self._signature_defs() + "</AdminData>\n")

    def _staff_users(self) -> str:
        names: dict[uuid.UUID, str | None] = {**self.extra_staff, **self.catalog.meta.staff}
        parts = [
            f'<User OID="USR.{staff_id}">'
            + (f"<FullName>{esc(name)}</FullName>" if name else "")
            + "</User>\n"
            for staff_id, name in sorted(names.items(), key=lambda pair: str(pair[0]))
        ]
        labels = {USR_SYSTEM: SOURCE_SYSTEM, USR_UNKNOWN: "Unidentified actor"}
        parts += [
            f'<User OID="{oid}" UserType="Other"><DisplayName>{labels[oid]}</DisplayName></User>\n'
            for oid in sorted(self.generic_users)
        ]
        return "".join(parts)

    def _locations(self) -> str:
        catalog = self.catalog
        rows = [
            (site.code, catalog.site_oid(site.id), site.name, site.created_at.date())
            for site in catalog.meta.sites
        ]
        study_day = catalog.meta.study.created_at.date()
        rows += [(str(s), catalog.site_oid(s), f"Site {s}", study_day) for s in self.unknown_sites]
        return "".join(
            f'<Location OID="{oid}" Name="{esc(name)}" LocationType="Site">'
            f'<MetaDataVersionRef StudyOID="{esc(catalog.study_oid)}"'
            f' MetaDataVersionOID="{catalog.mdv_oid}" EffectiveDate="{day.isoformat()}"/>'
            "</Location>\n"
            for _, oid, name, day in sorted(rows)
        )

    def _signature_defs(self) -> str:
        texts = {m.value: text for m, text in MEANING_TEXT.items()}
        return "".join(
            f'<SignatureDef OID="SD.{esc(meaning)}" Methodology="Electronic">'
            f"<Meaning>{esc(texts.get(meaning, meaning))}</Meaning>"
            f"<LegalReason>{LEGAL_REASON}</LegalReason></SignatureDef>\n"
            for meaning in sorted(self.meanings)
        )
