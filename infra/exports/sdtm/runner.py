"""Runs every SDTM domain over the snapshot's subjects into one table per dataset, then writes
define.xml for the datasets written. The table type makes the format: CSV or Dataset-JSON."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from infra.exports.model import Meta, Progress, Snapshot, WrittenFile
from infra.exports.sdtm.datasets import ALL, Dataset
from infra.exports.sdtm.define_xml import FILE_NAME, define_xml
from infra.exports.sdtm.domain import Output
from infra.exports.sdtm.study import StudyContext, SubjectContext
from infra.exports.streaming import OutputFile


class DatasetTable(Protocol):
    rows: int

    def row(self, values: Sequence[object]) -> None: ...

    def longest(self) -> Sequence[int]: ...

    def close(self, directory: Path) -> WrittenFile | None: ...


# (dataset, directory, progress) -> its table; and the dataset's file name
OpenTable = Callable[[Dataset, Path, Progress, Meta], DatasetTable]
FileName = Callable[[Dataset], str]


async def write_datasets(
    snapshot: Snapshot,
    directory: Path,
    progress: Progress,
    *,
    open_table: OpenTable,
    file_name: FileName,
) -> list[WrittenFile]:
    meta = snapshot.meta
    study = StudyContext.of(meta)
    tables = {d.name: open_table(d, directory, progress, meta) for d in ALL}
    outputs = [
        (d.domain, Output(d.domain, tables[d.name], tables.get(f"SUPP{d.name}")))
        for d in ALL
        if d.always
    ]
    files: list[WrittenFile] = []
    written: list[tuple[Dataset, str, Sequence[int]]] = []
    try:
        async for subject in snapshot.subjects():
            who = SubjectContext.of(study, subject)
            for domain, out in outputs:
                await domain.write(who, subject, out)
    finally:
        for dataset in ALL:
            table = tables[dataset.name]
            done = table.close(directory)
            if done is not None:
                files.append(done)
                written.append((dataset, file_name(dataset), table.longest()))
    with OutputFile(directory / FILE_NAME) as define:
        define.write(define_xml(meta, study, written))
    return [define.written(directory), *files]
