"""One Dataset-JSON 1.1 file, streamed: rows go to a spool as they come, and at the end the
file gets its metadata (with the record count and each column's longest value, which are
known only then), the rows copied from the spool, and its closing."""

from __future__ import annotations

from collections.abc import Sequence
from json.encoder import encode_basestring
from pathlib import Path
from typing import IO

from infra.exports.fhir.jsontext import Json, JsonObject, dumps
from infra.exports.model import Meta, Progress, WrittenFile
from infra.exports.sdtm.datasets import Dataset
from infra.exports.sdtm.define_xml import FILE_NAME as DEFINE
from infra.exports.sdtm.define_xml import item_oid, mdv_oid, study_oid
from infra.exports.sdtm.tables import FLUSH_ROWS, Lengths
from infra.exports.streaming import OutputFile, spool

VERSION = "1.1.0"
_TYPES = {"text": "string", "integer": "integer", "float": "float"}
_DATES = {"date": "date", "datetime": "datetime"}


def _cell(value: object, number: bool) -> str:
    if value == "" or value is None:
        return "null"
    if number:
        return str(value)
    return encode_basestring(str(value))


class JsonTable:
    def __init__(self, dataset: Dataset, path: Path, progress: Progress, meta: Meta) -> None:
        self.dataset = dataset
        self.path = path
        self.meta = meta
        self.rows = 0
        self.lengths = Lengths(len(dataset.variables))
        self._numbers = tuple(v.type == "Num" for v in dataset.variables)
        self._progress = progress
        self._spool: IO[bytes] = spool(path.parent)
        self._rows: list[Sequence[object]] = []

    def row(self, values: Sequence[object]) -> None:
        rows = self._rows
        rows.append(values)
        if len(rows) >= FLUSH_ROWS:
            self._flush()

    def longest(self) -> Sequence[int]:
        return self.lengths.longest

    def close(self, directory: Path) -> WrittenFile | None:
        self._flush()
        with self._spool:
            if not self.rows and not self.dataset.always:
                return None
            with OutputFile(self.path) as out:
                head = dumps(self._metadata())
                out.write(head[:-1] + ',"rows":[\n')
                out.copy_from(self._spool)
                out.write("]}\n", rows=self.rows)
        return out.written(directory)

    def _flush(self) -> None:
        rows, self._rows = self._rows, []
        if not rows:
            return
        self.lengths.measure_all(rows)
        numbers = self._numbers
        text = ",\n".join(["[" + ",".join(map(_cell, row, numbers)) + "]" for row in rows])
        self._spool.write(((",\n" if self.rows else "") + text).encode("utf-8"))
        self.rows += len(rows)
        self._progress(len(rows))

    def _metadata(self) -> JsonObject:
        meta, dataset = self.meta, self.dataset
        created = meta.created_at.isoformat()
        columns: list[Json] = [self._column(n) for n in range(len(dataset.variables))]
        return {
            "datasetJSONCreationDateTime": created,
            "datasetJSONVersion": VERSION,
            "fileOID": f"DATASET.{meta.export_id}.{dataset.name}",
            "dbLastModifiedDateTime": created,
            "originator": "Hearth",
            "sourceSystem": {"name": "Hearth", "version": VERSION},
            "studyOID": study_oid(meta),
            "metaDataVersionOID": mdv_oid(meta),
            "metaDataRef": DEFINE,
            "itemGroupOID": f"IG.{dataset.name}",
            "records": self.rows,
            "name": dataset.name,
            "label": dataset.label,
            "columns": columns,
        }

    def _column(self, index: int) -> JsonObject:
        v = self.dataset.variables[index]
        column: JsonObject = {
            "itemOID": item_oid(self.dataset.name, v.name),
            "name": v.name,
            "label": v.label,
            "dataType": _DATES.get(v.data_type) or _TYPES[v.data_type],
        }
        if v.data_type in _TYPES:
            column["length"] = max(self.lengths.longest[index], 1)
        if v.name in self.dataset.keys:
            column["keySequence"] = self.dataset.keys.index(v.name) + 1
        return column
