"""Writes the NDJSON files: study resources first, then each subject's resources."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from domain.diaries import EntryStatus
from infra.exports.fhir.adverse_events import adverse_event, exported
from infra.exports.fhir.jsontext import RESOURCE_TYPES, JsonObject, dumps
from infra.exports.fhir.medications import exported as medication_exported
from infra.exports.fhir.medications import medication_statement
from infra.exports.fhir.observations import Observations
from infra.exports.fhir.provenance import Targets, provenance
from infra.exports.fhir.records import appointment, consent, questionnaire_response
from infra.exports.fhir.study import Study, questionnaire, research_study, research_subject
from infra.exports.model import Progress, Snapshot, Subject, WrittenFile
from infra.exports.streaming import OutputFile

READING_BATCH = 500  # Observation lines per write and per progress call


class Files:
    """The open NDJSON files, with progress reported in batches."""

    def __init__(self, directory: Path, progress: Progress) -> None:
        self.directory = directory
        self.outputs = {name: OutputFile(directory / f"{name}.ndjson") for name in RESOURCE_TYPES}
        self._progress = progress
        self._pending = 0

    def resource(self, resource: JsonObject) -> None:
        name = resource["resourceType"]
        assert isinstance(name, str)
        self.lines(name, [dumps(resource)])

    def lines(self, name: str, lines: list[str]) -> None:
        if lines:
            self.outputs[name].write("\n".join(lines) + "\n", rows=len(lines))
            self._pending += len(lines)
            if self._pending >= READING_BATCH:
                self.flush()

    def flush(self) -> None:
        if self._pending:
            self._progress(self._pending)
            self._pending = 0

    def written(self) -> list[WrittenFile]:
        return [self.outputs[name].written(self.directory) for name in RESOURCE_TYPES]


# -- the writer ------------------------------------------------------------------------------


async def write_fhir(snapshot: Snapshot, directory: Path, progress: Progress) -> list[WrittenFile]:
    """Write the snapshot as FHIR NDJSON files into `directory`; one resource type per file."""
    study = Study(snapshot.meta)
    files = Files(directory, progress)
    observations = Observations()
    with ExitStack() as stack:
        for output in files.outputs.values():
            stack.enter_context(output)
        files.resource(research_study(study))
        for published in study.meta.questionnaires:
            files.resource(questionnaire(study, published))
        async for subject in snapshot.subjects():
            _write_subject_records(study, files, subject)
            withheld = await _observations(files, observations, subject)
            targets = Targets(subject, withheld)
            for event in subject.events:
                files.resource(provenance(targets, event))
        files.flush()
    return files.written()


async def _observations(files: Files, observations: Observations, subject: Subject) -> set[str]:
    """Write the subject's Observations; return the readings left out (under or failed
    review: not analysis data)."""
    withheld: set[str] = set()
    subject_id = subject.info.subject_id
    async for batch in subject.reading_batches():
        lines = []
        for row in batch:
            if row.accepted:
                lines.append(observations.line(subject_id, row))
            else:
                withheld.add(row.id)
        files.lines("Observation", lines)
    return withheld


def _write_subject_records(study: Study, files: Files, subject: Subject) -> None:
    files.resource(research_subject(study, subject))
    for signed in subject.consents:
        files.resource(consent(study, subject.info, signed))
    for visit in subject.visits:
        files.resource(appointment(study, subject.info, visit))
    for entry in subject.entries:
        if entry.status is EntryStatus.ACCEPTED:
            files.resource(questionnaire_response(study, subject.info, entry))
    for event in subject.adverse_events:
        if exported(event):
            files.resource(adverse_event(study, subject.info, event))
    for medication in subject.medications:
        if medication_exported(medication):
            files.resource(medication_statement(study, subject.info, medication))
