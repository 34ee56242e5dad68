"""The traceability matrix: every numbered requirement has tests, and every named test exists.

`tests/REQUIREMENTS.md` maps each numbered line of the shared requirements
(`../shared/REQUIREMENTS.md`, beside the repository) to pytest node ids. Node ids are checked
by parsing the test files with `ast`, so the check holds whichever part of the suite runs.
A requirement whose feature does not exist yet may say `open: <why>` instead, but only while
it is on the short allow-list below: the gaps stay visible, and the list can only shrink.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MATRIX = ROOT / "tests" / "REQUIREMENTS.md"
SHARED = ROOT.parent / "shared" / "REQUIREMENTS.md"

# Requirements whose feature (or part of it) does not exist yet. Remove a number when its
# gap closes; the check fails on a stale entry, and on an `open` row that is not listed here.
OPEN_ALLOWED: dict[int, str] = {}

_REQUIREMENT = re.compile(r"^(\d+)\.\s+\S")
_ROW = re.compile(r"^\|\s*(\d+)\s*\|(?P<title>[^|]*)\|(?P<tests>.*)\|\s*$")
_NODE = re.compile(r"`([^`]+)`")
_OPEN = re.compile(r"\bopen:\s*(\S.*?)\s*(?:$|<br>)")


@dataclass(frozen=True)
class Row:
    number: int
    title: str
    nodes: tuple[str, ...]
    open_reason: str | None


def requirement_numbers(text: str) -> list[int]:
    """The numbers of the numbered lines ("12. A signature shows ...")."""
    return [int(m.group(1)) for line in text.splitlines() if (m := _REQUIREMENT.match(line))]


def parse_matrix(text: str) -> list[Row]:
    rows = []
    for line in text.splitlines():
        match = _ROW.match(line.strip())
        if match is None:
            continue
        cell = match.group("tests")
        reason = _OPEN.search(cell)
        rows.append(
            Row(
                number=int(match.group(1)),
                title=match.group("title").strip(),
                nodes=tuple(_NODE.findall(cell)),
                open_reason=reason.group(1) if reason else None,
            )
        )
    return rows


def _defined_tests(path: Path) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Test functions and `Class::method` tests of a file, by the name pytest would use."""
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for member in node.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                    found[f"{node.name}::{member.name}"] = member
    return found


def _parametrised(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any("parametrize" in ast.unparse(d) for d in function.decorator_list)


def node_problem(node: str, root: Path) -> str | None:
    """Why `node` names no test of the repository under `root`, or None when it does."""
    path_part, _, name = node.partition("::")
    base, bracket, _ = name.partition("[")
    path = root / path_part
    if not (path_part.startswith("tests/") and path.name.startswith("test_") and path.is_file()):
        return f"{node}: no test file {path_part}"
    function = _defined_tests(path).get(base)
    if function is None or not base.split("::")[-1].startswith("test"):
        return f"{node}: no test {base} in {path_part}"
    if bracket and not _parametrised(function):
        return f"{node}: {base} is not parametrised"
    return None


def matrix_problems(
    rows: list[Row], required: Iterable[int], allowed_open: dict[int, str], root: Path
) -> list[str]:
    required = sorted(set(required))
    problems = []
    numbers = [r.number for r in rows]
    problems += [
        f"requirement {n}: more than one row" for n in sorted(set(numbers)) if numbers.count(n) > 1
    ]
    problems += [f"requirement {n}: no row" for n in required if n not in numbers]
    problems += [f"row {n}: no such requirement" for n in sorted(set(numbers) - set(required))]
    for row in rows:
        if row.open_reason is not None and row.number not in allowed_open:
            problems.append(f"row {row.number}: marked open, but not on the allow-list")
        if not row.nodes and row.open_reason is None:
            problems.append(f"row {row.number}: no tests")
        problems += [f"row {row.number}: {p}" for n in row.nodes if (p := node_problem(n, root))]
    marked = {r.number for r in rows if r.open_reason is not None}
    problems += [
        f"allow-list {n}: not open in the matrix any more; remove it from OPEN_ALLOWED"
        for n in sorted(set(allowed_open) - marked)
    ]
    return problems


def _required(rows: list[Row]) -> list[int]:
    """The shared requirements' numbers; on a machine without them, the matrix's own."""
    if SHARED.is_file():
        return requirement_numbers(SHARED.read_text(encoding="utf-8"))
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must have the shared requirements beside the repository: {SHARED}")
    return [r.number for r in rows]


def test_every_requirement_has_a_test_that_exists() -> None:
    rows = parse_matrix(MATRIX.read_text(encoding="utf-8"))
    required = _required(rows)
    assert required, "no numbered requirements found"
    problems = matrix_problems(rows, required, OPEN_ALLOWED, ROOT)
    assert not problems, "\n".join(problems)


def test_the_shared_requirements_are_numbered_one_by_one() -> None:
    if not SHARED.is_file():
        assert os.environ.get("CI", "").lower() != "true", f"missing {SHARED}"
        return  # a user's machine: the matrix check above covers what it can
    numbers = requirement_numbers(SHARED.read_text(encoding="utf-8"))
    assert numbers == list(range(1, len(numbers) + 1))


# --- the checker itself -------------------------------------------------------------------

GOOD = "tests/unit/test_traceability.py::test_every_requirement_has_a_test_that_exists"
PARAM = "tests/unit/test_crypto_envelope.py::test_truncated_blob_fails[17]"


def _row(number: int, *nodes: str, open_reason: str | None = None) -> Row:
    return Row(number, "t", nodes, open_reason)


def _check(rows: list[Row], allowed: dict[int, str] | None = None) -> list[str]:
    return matrix_problems(rows, (1, 2), allowed or {}, ROOT)


def test_a_complete_matrix_passes() -> None:
    assert _check([_row(1, GOOD), _row(2, PARAM, GOOD)]) == []


def test_a_requirement_without_a_row_or_without_tests_fails() -> None:
    assert _check([_row(1, GOOD)]) == ["requirement 2: no row"]
    assert _check([_row(1, GOOD), _row(2)]) == ["row 2: no tests"]


def test_a_row_for_a_requirement_that_does_not_exist_fails() -> None:
    assert _check([_row(1, GOOD), _row(2, GOOD), _row(3, GOOD)]) == ["row 3: no such requirement"]
    assert _check([_row(1, GOOD), _row(1, GOOD), _row(2, GOOD)]) == [
        "requirement 1: more than one row"
    ]


@pytest.mark.parametrize(
    ("node", "problem"),
    [
        ("tests/unit/test_nowhere.py::test_x", "no test file"),
        ("tests/unit/test_traceability.py::test_no_such_test", "no test test_no_such_test"),
        ("tests/unit/test_traceability.py::node_problem", "no test node_problem"),
        ("tests/unit/test_traceability.py::Row::number", "no test Row::number"),
        ("tests/world.py::build_world", "no test file"),
        (f"{GOOD}[x]", "is not parametrised"),
    ],
)
def test_a_named_test_that_does_not_exist_fails(node: str, problem: str) -> None:
    (found,) = _check([_row(1, GOOD), _row(2, node)])
    assert found.startswith("row 2: ")
    assert problem in found


def test_methods_of_test_classes_are_found(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(
        "class TestX:\n    async def test_y(self) -> None: ...\n"
        "class Helper:\n    def test_z(self) -> None: ...\n"
    )
    assert node_problem("tests/test_x.py::TestX::test_y", tmp_path) is None
    assert node_problem("tests/test_x.py::TestX::test_z", tmp_path) is not None
    assert node_problem("tests/test_x.py::Helper::test_z", tmp_path) is not None  # not collected


def test_open_rows_are_allowed_only_on_the_allow_list_and_the_list_only_shrinks() -> None:
    gap = _row(2, open_reason="not built yet")
    assert _check([_row(1, GOOD), gap], {2: "why"}) == []
    assert _check([_row(1, GOOD), gap]) == ["row 2: marked open, but not on the allow-list"]
    assert _check([_row(1, GOOD), _row(2, GOOD)], {2: "why"}) == [
        "allow-list 2: not open in the matrix any more; remove it from OPEN_ALLOWED"
    ]
    assert _check([_row(1, GOOD), _row(2, GOOD, open_reason="partly")], {2: "why"}) == []


def test_rows_and_numbers_are_read_from_markdown() -> None:
    rows = parse_matrix(
        "| # | requirement | tests |\n|---|---|---|\n"
        f"| 7 | Audit stays on | `{GOOD}`<br>`{PARAM}` |\n"
        "| 36 | Retention | open: no retention yet |\n"
        f"| 53 | Limits | `{GOOD}`<br>open: no cost limit |\n"
    )
    assert rows == [
        Row(7, "Audit stays on", (GOOD, PARAM), None),
        Row(36, "Retention", (), "no retention yet"),
        Row(53, "Limits", (GOOD,), "no cost limit"),
    ]
    assert requirement_numbers("# Title\n1. First line.\n\n12. Twelfth.\n  3. not one\n") == [1, 12]
