"""define.xml: CDISC Define-XML 2.1 metadata of the datasets written, valid against its XSD.

One ItemGroupDef per dataset (``IG.<name>``, with its class, structure, keys and the file it
describes), one ItemDef per variable (``IT.<dataset>.<name>``, with its label, data type,
the longest value written as Length, and its origin), code lists for the test codes (QSTESTCD
decodes to the whole question, where QSTEST is cut to 40 characters), the arms and the fixed
terms, and a MethodDef describing each derived variable. The Dataset-JSON files refer to
these OIDs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from infra.exports.model import Meta
from infra.exports.odm.text import esc, stamp
from infra.exports.sdtm.datasets import Dataset
from infra.exports.sdtm.study import StudyContext
from infra.exports.sdtm.terms import AGE_UNIT, SEX_UNKNOWN
from infra.exports.sdtm.vs import VS_TESTS

FILE_NAME = "define.xml"
SDTMIG = "STD.SDTMIG.3.4"
CT = "STD.CT.SDTM"
CT_VERSION = "2024-03-29"
_SIZED = frozenset({"text", "integer", "float"})
_SOURCE = {"Collected": "Subject", "Assigned": "Sponsor"}


def study_oid(meta: Meta) -> str:
    return f"S.{meta.study.code}"


def mdv_oid(meta: Meta) -> str:
    return f"MDV.{meta.study.code}.SDTMIG.3.4.{meta.position}"


def item_oid(dataset: str, variable: str) -> str:
    return f"IT.{dataset}.{variable}"


def _text(text: str) -> str:
    return f'<Description><TranslatedText xml:lang="en">{esc(text)}</TranslatedText></Description>'


def define_xml(
    meta: Meta,
    study: StudyContext,
    written: Sequence[tuple[Dataset, str, Sequence[int]]],
) -> str:
    """`written`: each dataset written, its file name and the longest value per variable."""
    code_lists = _code_lists(meta, study)
    created = stamp(meta.created_at)
    body = "".join(
        [_standards()]
        + [_group(d, name) for d, name, _ in written]
        + [_item_defs(d, lengths, code_lists) for d, _, lengths in written]
        + [_code_list(oid, name, items) for oid, (name, _, items) in code_lists.items()]
        + [_methods(d) for d, _, _ in written]
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3"'
        ' xmlns:def="http://www.cdisc.org/ns/def/v2.1"'
        ' xmlns:xlink="http://www.w3.org/1999/xlink"'
        f' ODMVersion="1.3.2" FileType="Snapshot" FileOID="DEFINE.{meta.export_id}"'
        f' CreationDateTime="{created}" Originator="Hearth" SourceSystem="Hearth"'
        ' def:Context="Other">\n'
        f'<Study OID="{esc(study_oid(meta))}"><GlobalVariables>'
        f"<StudyName>{esc(meta.study.code)}</StudyName>"
        f"<StudyDescription>{esc(meta.study.title)}</StudyDescription>"
        f"<ProtocolName>{esc(meta.study.code)}</ProtocolName></GlobalVariables>\n"
        f'<MetaDataVersion OID="{esc(mdv_oid(meta))}"'
        f' Name="{esc(meta.study.code)} SDTM at event-log position {meta.position}"'
        ' def:DefineVersion="2.1.0">\n'
        f"{body}</MetaDataVersion>\n</Study>\n</ODM>\n"
    )


def _standards() -> str:
    return (
        f'<def:Standards><def:Standard OID="{SDTMIG}" Name="SDTMIG" Type="IG" Version="3.4"'
        f' Status="Final"/><def:Standard OID="{CT}" Name="CDISC/NCI" Type="CT"'
        f' PublishingSet="SDTM" Version="{CT_VERSION}" Status="Final"/></def:Standards>\n'
    )


def _group(dataset: Dataset, file_name: str) -> str:
    keys = {name: n for n, name in enumerate(dataset.keys, start=1)}
    refs = "".join(
        f'<ItemRef ItemOID="{item_oid(dataset.name, v.name)}" OrderNumber="{n}"'
        f' Mandatory="{"Yes" if v.core == "Req" else "No"}"'
        + (f' KeySequence="{keys[v.name]}"' if v.name in keys else "")
        + (f' MethodOID="MT.{dataset.name}.{v.name}"' if v.origin == "Derived" else "")
        + "/>"
        for n, v in enumerate(dataset.variables, start=1)
    )
    domain = "" if dataset.name.startswith("SUPP") else f' Domain="{dataset.name}"'
    return (
        f'<ItemGroupDef OID="IG.{dataset.name}"{domain} Name="{dataset.name}" Repeating="Yes"'
        f' IsReferenceData="No" SASDatasetName="{dataset.name}" Purpose="Tabulation"'
        f' def:Structure="{esc(dataset.structure)}" def:StandardOID="{SDTMIG}"'
        f' def:ArchiveLocationID="LF.{dataset.name}">{_text(dataset.label)}{refs}'
        f'<def:Class Name="{dataset.klass}"/>'
        f'<def:leaf ID="LF.{dataset.name}" xlink:href="{esc(file_name)}">'
        f"<def:title>{esc(file_name)}</def:title></def:leaf></ItemGroupDef>\n"
    )


def _item_defs(
    dataset: Dataset, lengths: Sequence[int], code_lists: Mapping[str, tuple[str, str, object]]
) -> str:
    parts = []
    for v, longest in zip(dataset.variables, lengths, strict=True):
        length = f' Length="{max(longest, 1)}"' if v.data_type in _SIZED else ""
        digits = ' SignificantDigits="3"' if v.data_type == "float" else ""
        listed = next((oid for oid, (_, var, _) in code_lists.items() if var == v.name), None)
        code_list = f'<CodeListRef CodeListOID="{listed}"/>' if listed else ""
        source = _SOURCE.get(v.origin)
        origin = f'<def:Origin Type="{v.origin}"' + (f' Source="{source}"/>' if source else "/>")
        parts.append(
            f'<ItemDef OID="{item_oid(dataset.name, v.name)}" Name="{v.name}"'
            f' DataType="{v.data_type}"{length}{digits} SASFieldName="{v.name}">'
            f"{_text(v.label)}{code_list}{origin}</ItemDef>\n"
        )
    return "".join(parts)


def _code_lists(
    meta: Meta, study: StudyContext
) -> dict[str, tuple[str, str, list[tuple[str, str]]]]:
    """OID -> (name, the variable it codes, [(code, decode)]); only lists with codes."""
    lists = {
        "CL.QSTESTCD": (
            "Question short names",
            "QSTESTCD",
            [(t.testcd, t.question) for t in study.qs_tests.values()],
        ),
        "CL.VSTESTCD": (
            "Vital signs tests",
            "VSTESTCD",
            [(t.testcd, t.test) for tests in VS_TESTS.values() for t in tests],
        ),
        "CL.ARMCD": ("Arms", "ARMCD", [(a.code, a.name) for a in meta.arms]),
        "CL.SEX": ("Sex", "SEX", [(SEX_UNKNOWN, "Unknown")]),
        "CL.AGEU": ("Age unit", "AGEU", [(AGE_UNIT, "Years")]),
    }
    return {oid: found for oid, found in lists.items() if found[2]}


def _code_list(oid: str, name: str, items: Iterable[tuple[str, str]]) -> str:
    entries = "".join(
        f'<CodeListItem CodedValue="{esc(code)}" OrderNumber="{n}"><Decode>'
        f'<TranslatedText xml:lang="en">{esc(decode)}</TranslatedText></Decode></CodeListItem>'
        for n, (code, decode) in enumerate(items, start=1)
    )
    return f'<CodeList OID="{oid}" Name="{esc(name)}" DataType="text">{entries}</CodeList>\n'


def _methods(dataset: Dataset) -> str:
    return "".join(
        f'<MethodDef OID="MT.{dataset.name}.{v.name}" Name="{dataset.name}.{v.name}"'
        f' Type="Computation">{_text(v.notes)}</MethodDef>\n'
        for v in dataset.variables
        if v.origin == "Derived"
    )
