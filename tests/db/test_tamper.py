"""Tamper evidence: every way of rewriting history is found, and the log and position named.

Each test gets a database of its own and attacks it as the database superuser would (triggers
switched off with session_replication_role, the project's own hashing code to recompute the
chain, no signing key), then verifies. What lives outside the database (the published
checkpoint directory, or a copy shipped elsewhere) is what the superuser cannot rewrite.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.crypto import signing
from infra.db.engine import create_engine
from infra.eventlog import merkle
from infra.eventlog.chain import GENESIS, link_body
from infra.eventlog.checkpoints import Checkpoint
from tests.clock import PinnedClock
from tests.conftest import Scratch
from tests.world import World, build_world


@contextlib.asynccontextmanager
async def superuser(scratch: Scratch) -> AsyncIterator[AsyncConnection]:
    """A connection as the owner with every trigger off, committed on exit."""
    engine = create_engine(scratch.owner_url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
            yield connection
    finally:
        await engine.dispose()


async def _tamper(scratch: Scratch, *statements: str) -> None:
    async with superuser(scratch) as connection:
        for statement in statements:
            await connection.execute(text(statement))


async def rehash(scratch: Scratch, log_id: uuid.UUID) -> None:
    """What anyone with the database and this code can do: recompute a log's whole chain."""
    async with superuser(scratch) as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT c.seq, e.body FROM audit_chain c JOIN audit_events e "
                    "ON e.ingest = c.ingest WHERE c.log_id = :log ORDER BY c.seq"
                ),
                {"log": log_id},
            )
        ).all()
        prev = GENESIS
        for seq, body in rows:
            digest = link_body(prev, body.encode())
            await connection.execute(
                text(
                    "UPDATE audit_chain SET prev_hash = :p, hash = :h "
                    "WHERE log_id = :log AND seq = :s"
                ),
                {"p": prev, "h": digest, "log": log_id, "s": seq},
            )
            prev = digest


@pytest.fixture
async def world(scratch: Scratch) -> World:
    built = await build_world(scratch.runtime.services.uow)
    await scratch.runtime.seal_checkpoints()
    return built


@pytest.fixture
async def origin(scratch: Scratch, world: World) -> str:
    """The study log's name, as its checkpoints and every problem in it say."""
    return f"hearth/{await scratch.runtime.log.installation()}/study/{world.study.id}"


async def _problem(scratch: Scratch, *trusted: Path) -> tuple[str, int | None, str]:
    report = await scratch.runtime.verify_audit(trusted)
    assert report.problem is not None, "tampering went unnoticed"
    problem = report.problem
    return problem.log, problem.position, problem.reason


def _study_event(world: World, position: int) -> str:
    return (
        f"(SELECT ingest FROM audit_chain WHERE log_id = '{world.study.id}' AND seq = {position})"
    )


def _edit(world: World, position: int, old: str, new: str) -> str:
    return (
        f"UPDATE audit_events SET body = replace(body, '{old}', '{new}') "
        f"WHERE ingest = {_study_event(world, position)}"
    )


def _ship(scratch: Scratch, tmp_path: Path) -> Path:
    """The operator's copy of the published checkpoints, out of the database owner's reach."""
    shipped = tmp_path / "shipped"
    shutil.copytree(scratch.settings.checkpoint_path, shipped)
    return shipped


async def test_an_untouched_log_verifies(scratch: Scratch, world: World, origin: str) -> None:
    report = await scratch.runtime.verify_audit()
    assert report.ok, report.problems
    study = next(r for r in report.logs if r.origin == origin)
    assert study.events > 5
    assert study.checkpoints == 1
    assert study.trusted == 1  # its published copy, read back from the directory
    assert study.unsealed == 0
    assert report.sealed_values > 10  # contact details and the sealed reason
    assert await scratch.runtime.seal_checkpoints() == []  # nothing new: no second checkpoint


async def test_each_study_has_a_log_of_its_own(scratch: Scratch, world: World, origin: str) -> None:
    other = await build_world(scratch.runtime.services.uow)
    await scratch.runtime.seal_checkpoints()
    report = await scratch.runtime.verify_audit()
    assert report.ok, report.problems
    origins = {r.origin: r for r in report.logs}
    mine, theirs = (
        origins[origin],
        origins[origin.replace(str(world.study.id), str(other.study.id))],
    )
    assert mine.events == theirs.events  # the same world, numbered from 1 in each log
    assert mine.head != theirs.head


async def test_a_flipped_byte_is_found(scratch: Scratch, world: World, origin: str) -> None:
    await _tamper(scratch, _edit(world, 3, '"action":"created"', '"action":"creatEd"'))
    assert await _problem(scratch) == (
        origin,
        3,
        "its content does not match its hash (changed)",
    )


async def test_a_deleted_event_is_found(scratch: Scratch, world: World, origin: str) -> None:
    await _tamper(scratch, f"DELETE FROM audit_chain WHERE log_id = '{world.study.id}' AND seq = 4")
    log, position, reason = await _problem(scratch)
    assert (log, position) == (origin, 4)
    assert "missing" in reason


async def test_two_swapped_events_are_found(scratch: Scratch, world: World, origin: str) -> None:
    where = f"log_id = '{world.study.id}'"
    await _tamper(
        scratch,
        f"UPDATE audit_chain SET seq = -seq WHERE {where} AND seq IN (3, 4)",
        f"UPDATE audit_chain SET seq = 7 + seq WHERE {where} AND seq IN (-3, -4)",
    )
    log, position, reason = await _problem(scratch)
    assert (log, position) == (origin, 3)
    assert "does not follow" in reason


async def test_a_forged_checkpoint_is_found(scratch: Scratch, world: World, origin: str) -> None:
    await _tamper(
        scratch,
        "UPDATE audit_checkpoints SET root_hash = decode(repeat('ab', 32), 'hex') "
        f"WHERE log_id = '{world.study.id}'",
    )
    log, _, reason = await _problem(scratch)
    assert log == origin
    assert "forged" in reason


async def test_a_checkpoint_signed_by_another_key_is_found(
    scratch: Scratch, world: World, origin: str
) -> None:
    from infra.eventlog import notes

    intruder = signing.signing_key(b"\x01" * 32)
    async with superuser(scratch) as connection:
        note = (
            await connection.execute(
                text("SELECT note FROM audit_checkpoints WHERE log_id = :l"),
                {"l": world.study.id},
            )
        ).scalar_one()
        forged = notes.sign(notes.parse(note).text, origin, intruder)
        await connection.execute(
            text("UPDATE audit_checkpoints SET note = :n WHERE log_id = :l"),
            {"n": forged, "l": world.study.id},
        )
    log, _, reason = await _problem(scratch)
    assert log == origin
    assert "signature" in reason


async def test_a_tampered_sealed_value_is_found(scratch: Scratch, world: World) -> None:
    await _tamper(
        scratch,
        "UPDATE audit_sealed_values SET sealed = sealed || '\\x00'::bytea "
        "WHERE event_id = (SELECT event_id FROM audit_sealed_values LIMIT 1)",
    )
    assert "does not decrypt" in (await _problem(scratch))[2]


async def test_a_silently_cleared_sealed_value_is_found(scratch: Scratch, world: World) -> None:
    await _tamper(
        scratch,
        "UPDATE audit_sealed_values SET sealed = NULL WHERE ctid = (SELECT ctid FROM audit_sealed_values LIMIT 1)",
    )
    log, position, reason = await _problem(scratch)
    assert "without a logged redaction" in reason
    assert log.startswith("hearth/")
    assert position is not None


async def test_a_deleted_sealed_value_is_found(scratch: Scratch, world: World) -> None:
    await _tamper(
        scratch,
        "DELETE FROM audit_sealed_values WHERE ctid = (SELECT ctid FROM audit_sealed_values LIMIT 1)",
    )
    assert "deleted" in (await _problem(scratch))[2]


# The attacks of a superuser who also removes the evidence inside the database ----------


async def test_deleted_checkpoints_are_found_by_their_published_copies(
    scratch: Scratch, world: World
) -> None:
    await _tamper(scratch, "DELETE FROM audit_checkpoints")
    log, position, reason = await _problem(scratch)
    assert log.startswith("hearth/")
    assert position is not None
    assert "missing from the database" in reason


async def test_deleted_checkpoints_and_copies_are_found_once_the_interval_is_past(
    scratch: Scratch, world: World, clock: PinnedClock, origin: str
) -> None:
    await _tamper(scratch, "DELETE FROM audit_checkpoints")
    shutil.rmtree(scratch.settings.checkpoint_path)
    assert (await scratch.runtime.verify_audit()).ok  # inside the interval: still being sealed
    clock.advance(seconds=scratch.settings.checkpoint_seconds + 1)
    report = await scratch.runtime.verify_audit()
    found = {p.log: p for p in report.problems}
    problem = found[origin]
    assert problem.position == 1
    assert "in no checkpoint, longer than the checkpoint interval" in problem.reason
    assert "no checkpoint at all" in problem.reason


async def test_a_changed_and_rehashed_event_is_found_by_the_checkpoint(
    scratch: Scratch, world: World, origin: str
) -> None:
    await _tamper(scratch, _edit(world, 2, '"new":"Berlin"', '"new":"Bern"'))
    await rehash(scratch, world.study.id)
    log, _, reason = await _problem(scratch)
    assert log == origin
    assert "does not match the log (forged or rewritten)" in reason


async def test_a_rehashed_log_without_its_checkpoints_is_found_by_the_trusted_copy(
    scratch: Scratch, world: World, tmp_path: Path, origin: str
) -> None:
    shipped = _ship(scratch, tmp_path)
    shutil.rmtree(scratch.settings.checkpoint_path)  # the attacker cleans up locally too
    await _tamper(scratch, _edit(world, 2, '"new":"Berlin"', '"new":"Bern"'))
    await rehash(scratch, world.study.id)
    await _tamper(scratch, f"DELETE FROM audit_checkpoints WHERE log_id = '{world.study.id}'")
    log, position, reason = await _problem(scratch, shipped)
    assert log == origin
    assert position == (await _size(scratch, world))
    assert "not the ones a trusted checkpoint signed" in reason


async def _size(scratch: Scratch, world: World) -> int:
    async with superuser(scratch) as connection:
        size = await connection.scalar(
            text("SELECT max(seq) FROM audit_chain WHERE log_id = :l"), {"l": world.study.id}
        )
    return int(size)


async def test_a_cut_tail_is_found_by_the_trusted_copy(
    scratch: Scratch, world: World, tmp_path: Path, origin: str
) -> None:
    sealed = await _size(scratch, world)
    await _more_events(scratch, world)
    await scratch.runtime.seal_checkpoints()
    total = await _size(scratch, world)
    shipped = _ship(scratch, tmp_path)
    shutil.rmtree(scratch.settings.checkpoint_path)
    where = f"log_id = '{world.study.id}'"
    await _tamper(
        scratch,
        f"DELETE FROM audit_events WHERE ingest IN (SELECT ingest FROM audit_chain WHERE {where} AND seq > {sealed})",
        f"DELETE FROM audit_chain WHERE {where} AND seq > {sealed}",
        f"DELETE FROM audit_checkpoints WHERE {where} AND tree_size > {sealed}",
    )
    alone = await scratch.runtime.verify_audit()  # the logs agree with themselves: only the
    assert {p.log for p in alone.problems} == {""}  # records without events give it away
    log, position, reason = await _problem(scratch, shipped)
    assert (log, position) == (origin, sealed + 1)
    assert f"covers {total} events but the log has only {sealed}" in reason


async def _more_events(scratch: Scratch, world: World) -> None:
    from domain.services import studies
    from tests.factories import admin, caller

    for n in range(3):
        await studies.create_site(
            uow=scratch.runtime.services.uow(),
            ctx=caller(admin()),
            study_id=world.study.id,
            code=f"X{n}",
            name="More",
            country="DE",
            timezone="Europe/Berlin",
        )


async def test_a_log_rewritten_from_a_position_on_is_found(
    scratch: Scratch, world: World, tmp_path: Path, origin: str
) -> None:
    first = await _size(scratch, world)
    await _more_events(scratch, world)
    await scratch.runtime.seal_checkpoints()
    shipped = _ship(scratch, tmp_path)
    shutil.rmtree(scratch.settings.checkpoint_path)
    # From position first + 1 on, another history: the same events, one of them changed,
    # rechained with the project's code; the checkpoints that covered them removed.
    await _tamper(
        scratch,
        _edit(world, first + 2, '"new":"More"', '"new":"Less"'),
        f"DELETE FROM audit_checkpoints WHERE log_id = '{world.study.id}' AND tree_size > {first}",
    )
    await rehash(scratch, world.study.id)
    alone = await scratch.runtime.verify_audit()  # the log agrees with itself; the site
    assert [p.reason.split(": ")[1] for p in alone.problems] == [  # row does not
        "`name` is not what its events say"
    ]
    log, position, reason = await _problem(scratch, shipped)
    assert log == origin
    assert position == first + 3  # the trusted checkpoint that covers the change
    assert "not the ones a trusted checkpoint signed" in reason


async def test_events_taken_off_the_queue_are_found(
    scratch: Scratch, world: World, origin: str
) -> None:
    await _more_events(scratch, world)
    await _tamper(scratch, "DELETE FROM audit_pending")
    log, position, reason = await _problem(scratch)
    assert (log, position) == (origin, None)
    assert "neither in the log nor queued" in reason


async def test_a_forged_trusted_copy_is_refused(
    scratch: Scratch, world: World, tmp_path: Path, origin: str
) -> None:
    shipped = _ship(scratch, tmp_path)
    (file,) = [p for p in shipped.rglob("*.checkpoint") if f"study-{world.study.id}" in str(p)]
    lines = file.read_text().split("\n")
    lines[2] = "q" + lines[2][1:]
    file.write_text("\n".join(lines))
    log, _, reason = await _problem(scratch, shipped)
    assert log == origin
    assert "is not signed by its key" in reason


async def test_proofs_between_checkpoints(scratch: Scratch, world: World) -> None:
    await _more_events(scratch, world)
    (second,) = await scratch.runtime.seal_checkpoints()
    log = await scratch.runtime.log.log(world.study.code)
    stored = [c async for c in _checkpoints(scratch, world)]
    first = stored[0]
    consistency = await scratch.runtime.log.prove_consistency(log, first.tree_size, None)
    assert consistency.new.tree_size == second.tree_size
    assert consistency.verifies()
    assert not merkle.verify_consistency(
        first.tree_size, second.tree_size, bytes(32), second.root_hash, consistency.path
    )
    inclusion = await scratch.runtime.log.prove_inclusion(log, 2, None)
    assert inclusion.verifies()
    assert not merkle.verify_inclusion(
        inclusion.leaf, 1, second.tree_size, inclusion.path, bytes(32)
    )
    assert inclusion.document()["checkpoint"] == second.note


async def _checkpoints(scratch: Scratch, world: World) -> AsyncIterator[Checkpoint]:
    from infra.eventlog import checkpoints

    async with scratch.runtime.storage.sessions() as session:
        for checkpoint in await checkpoints.of_log(session, world.study.id):
            yield checkpoint
