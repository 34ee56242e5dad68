"""Writes ``odm.xml``: header and metadata, AdminData, then ClinicalData.

AdminData precedes ClinicalData, but the participants who acted or signed are only known
while the subjects stream: their ``<User>`` elements and the clinical data are spooled to
anonymous temporary files in the export directory and copied into ``odm.xml`` at the end.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from infra.exports.model import Progress, Snapshot, WrittenFile
from infra.exports.odm.admin import Admin
from infra.exports.odm.catalog import Catalog
from infra.exports.odm.clinical import SubjectWriter
from infra.exports.odm.metadata import header, study
from infra.exports.odm.text import FILE_NAME, esc
from infra.exports.streaming import Buffer, OutputFile, spool


async def write_odm(snapshot: Snapshot, directory: Path, progress: Progress) -> list[WrittenFile]:
    """Write `odm.xml` (CDISC ODM 1.3.2, archival) into `directory`; see the package doc."""
    meta = snapshot.meta
    catalog = Catalog.of(meta)
    output = OutputFile(directory / FILE_NAME)
    with output, spool(directory) as clinical, spool(directory) as users:
        output.write(header(meta) + study(catalog))
        admin = Admin(catalog, users)
        sink = Buffer(clinical, progress)
        async for subject in snapshot.subjects():
            await SubjectWriter(catalog, admin, subject, sink).write()
        sink.flush()
        admin.write(output)
        output.write(
            f'<ClinicalData StudyOID="{esc(catalog.study_oid)}"'
            f' MetaDataVersionOID="{catalog.mdv_oid}">\n'
        )
        # A large study's clinical data is gigabytes: copy it off the event loop.
        await asyncio.to_thread(output.copy_from, clinical)
        output.write("</ClinicalData>\n</ODM>\n", rows=sink.rows)
    return [output.written(directory)]
