"""The DATASET_JSON format: the SDTM domains written as Dataset-JSON, with define.xml."""

from __future__ import annotations

from pathlib import Path

from infra.exports.datasetjson.table import JsonTable
from infra.exports.model import Meta, Progress, Snapshot, WrittenFile
from infra.exports.sdtm.datasets import Dataset
from infra.exports.sdtm.runner import write_datasets


def _file(dataset: Dataset) -> str:
    return f"{dataset.name.lower()}.json"


def _open(dataset: Dataset, directory: Path, progress: Progress, meta: Meta) -> JsonTable:
    return JsonTable(dataset, directory / _file(dataset), progress, meta)


async def write_dataset_json(
    snapshot: Snapshot, directory: Path, progress: Progress
) -> list[WrittenFile]:
    """Write define.xml and a Dataset-JSON file per SDTM dataset into `directory`."""
    return await write_datasets(snapshot, directory, progress, open_table=_open, file_name=_file)
