"""The SDTM format: a CSV file per dataset, define.xml, and the plain dictionary files
define.csv and codes.csv."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from infra.exports.model import Meta, Progress, Snapshot, WrittenFile
from infra.exports.sdtm.datasets import Dataset
from infra.exports.sdtm.dictionary import CODES_HEADER, DEFINE_HEADER, code_rows, define_rows
from infra.exports.sdtm.runner import write_datasets
from infra.exports.sdtm.study import StudyContext
from infra.exports.sdtm.tables import CsvTable


class _Csv(CsvTable):
    def longest(self) -> Sequence[int]:
        return self.lengths.longest


def _open(dataset: Dataset, directory: Path, progress: Progress, meta: Meta) -> _Csv:
    return _Csv(directory / f"{dataset.name}.csv", dataset.header, progress, always=dataset.always)


def _dictionary(directory: Path, meta: Meta) -> list[WrittenFile]:
    files = []
    for name, header, rows in (
        ("define.csv", DEFINE_HEADER, define_rows()),
        ("codes.csv", CODES_HEADER, code_rows(meta, StudyContext.of(meta))),
    ):
        table = CsvTable(directory / name, header, None, always=True)
        for row in rows:
            table.row(row)
        done = table.close(directory)
        assert done is not None
        files.append(done)
    return files


async def write_sdtm(snapshot: Snapshot, directory: Path, progress: Progress) -> list[WrittenFile]:
    """Write define.csv, codes.csv, define.xml and a CSV per dataset into `directory`."""
    dictionary = _dictionary(directory, snapshot.meta)
    data = await write_datasets(
        snapshot, directory, progress, open_table=_open, file_name=lambda d: f"{d.name}.csv"
    )
    return dictionary + data
