"""Dataset tables: rows in, a file out. `Lengths` measures the longest value of each variable
as rows pass (define.xml and Dataset-JSON declare them); `CsvTable` writes RFC 4180 CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from infra.exports.model import Progress, WrittenFile
from infra.exports.streaming import OutputFile

FLUSH_ROWS = 2000  # rows buffered per dataset before they go to the file and to `progress`


class SdtmDialect(csv.Dialect):
    """RFC 4180 CSV: comma, minimal quoting with doubled quotes, CRLF line endings."""

    delimiter = ","
    quotechar = '"'
    escapechar = None
    doublequote = True
    skipinitialspace = False
    lineterminator = "\r\n"
    quoting = csv.QUOTE_MINIMAL
    strict = True


class Lengths:
    def __init__(self, width: int) -> None:
        self.longest = [0] * width

    def measure(self, values: Sequence[object]) -> None:
        self.longest = list(map(max, self.longest, map(len, map(str, values))))

    def measure_all(self, rows: Sequence[Sequence[object]]) -> None:
        """The same as `measure` for each row, a column at a time (loops in C, not Python)."""
        if rows:
            columns = zip(*rows, strict=True)
            found = [max(map(len, map(str, column))) for column in columns]
            self.longest = list(map(max, self.longest, found))


class CsvTable:
    """One CSV file: a header row of variable names, then the rows, flushed in batches. A
    table that need not exist (`always=False`) creates its file with its first row."""

    def __init__(
        self, path: Path, header: Sequence[str], progress: Progress | None, *, always: bool
    ) -> None:
        self.path = path
        self.lengths = Lengths(len(header))
        self._progress = progress
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, dialect=SdtmDialect)
        self._writer.writerow(header)
        self._out: OutputFile | None = None
        self._rows: list[Sequence[object]] = []
        self.rows = 0
        if always:
            self._open()

    def row(self, values: Sequence[object]) -> None:
        rows = self._rows
        rows.append(values)
        if len(rows) >= FLUSH_ROWS:
            self._flush()

    def close(self, directory: Path) -> WrittenFile | None:
        self._flush()
        if self._out is None:
            return None
        self._out.__exit__(None, None, None)
        return self._out.written(directory)

    def _open(self) -> OutputFile:
        self._out = OutputFile(self.path).__enter__()
        return self._out

    def _flush(self) -> None:
        pending, self._rows = self._rows, []
        self.lengths.measure_all(pending)
        self._writer.writerows(pending)
        text = self._buffer.getvalue()
        rows = len(pending)
        if not rows and self._out is None:
            return
        out = self._out or self._open()
        if text:
            out.write(text, rows=rows)
            self._buffer.seek(0)
            self._buffer.truncate()
        self.rows += rows
        if rows and self._progress is not None:
            self._progress(rows)
