"""Tamper evidence: every kind of tampering is found, at the first bad position.

Each test gets a database of its own, tampers with it as the superuser (triggers switched
off with session_replication_role, as an attacker with full access would), and verifies.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from infra.crypto import signing
from infra.db.engine import create_engine
from infra.eventlog import checkpoints, merkle
from tests.conftest import Scratch
from tests.world import build_world


async def _tamper(scratch: Scratch, *statements: str) -> None:
    engine = create_engine(scratch.owner_url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
async def world(scratch: Scratch) -> Scratch:
    await build_world(scratch.runtime.services.uow)
    return scratch


async def _problem(scratch: Scratch) -> tuple[int, str]:
    report = await scratch.runtime.verify_audit()
    assert report.problem is not None, "tampering went unnoticed"
    return report.problem.position, report.problem.reason


async def test_an_untouched_log_verifies(world: Scratch) -> None:
    first = await world.runtime.seal_checkpoint()
    assert first is not None
    report = await world.runtime.verify_audit()
    assert report.ok, report.problem
    assert report.events == first.tree_size > 5
    assert report.checkpoints == 1
    assert report.sealed_values > 10  # contact details and the sealed reason
    assert await world.runtime.seal_checkpoint() is None  # nothing new: no second checkpoint


async def test_a_flipped_byte_is_found(world: Scratch) -> None:
    await _tamper(world, "UPDATE audit_events SET action = 'creatEd' WHERE seq = 3")
    assert await _problem(world) == (3, "its content does not match its hash (changed)")


async def test_a_changed_value_inside_json_is_found(world: Scratch) -> None:
    await _tamper(
        world,
        "UPDATE audit_events SET fields = jsonb_set(fields, '{0,new}', '\"X\"') WHERE seq = 2",
    )
    assert (await _problem(world))[0] == 2


async def test_a_deleted_event_is_found(world: Scratch) -> None:
    await _tamper(world, "DELETE FROM audit_events WHERE seq = 4")
    position, reason = await _problem(world)
    assert position == 4
    assert "missing" in reason


async def test_two_swapped_events_are_found(world: Scratch) -> None:
    columns = (
        "id, recorded_at, actor_kind, actor_id, actor_role, study_id, site_id, participant_id, "
        "entity_type, entity_id, action, fields, reason, origin, prev_hash, hash"
    )
    await _tamper(
        world,
        f"CREATE TEMP TABLE swap AS SELECT seq, {columns} FROM audit_events WHERE seq IN (3, 4)",
        "UPDATE audit_events SET seq = -seq WHERE seq IN (3, 4)",
        "UPDATE audit_events SET seq = 7 - (-seq) WHERE seq IN (-3, -4)",
    )
    position, reason = await _problem(world)
    assert position == 3
    assert "does not follow" in reason


async def test_a_removed_tail_is_found_by_the_checkpoint(world: Scratch) -> None:
    sealed = await world.runtime.seal_checkpoint()
    assert sealed is not None
    await _tamper(world, f"DELETE FROM audit_events WHERE seq = {sealed.tree_size}")
    position, _ = await _problem(world)
    assert position == sealed.tree_size


async def test_a_forged_checkpoint_is_found(world: Scratch) -> None:
    sealed = await world.runtime.seal_checkpoint()
    assert sealed is not None
    await _tamper(world, "UPDATE audit_checkpoints SET root_hash = decode(repeat('ab', 32), 'hex')")
    position, reason = await _problem(world)
    assert position == sealed.tree_size
    assert "forged" in reason


async def test_a_checkpoint_signed_by_another_key_is_found(world: Scratch) -> None:
    sealed = await world.runtime.seal_checkpoint()
    assert sealed is not None
    intruder = signing.signing_key(b"\x01" * 32)
    forged = checkpoints.Checkpoint(
        sealed.tree_size + 0,
        sealed.root_hash,
        sealed.chain_head,
        sealed.created_at,
        signing.key_id(intruder),
        b"",
    )
    signature = signing.sign(intruder, forged.message()).hex()
    await _tamper(
        world,
        f"UPDATE audit_checkpoints SET key_id = '{forged.key_id}', "
        f"signature = decode('{signature}', 'hex')",
    )
    assert "signature" in (await _problem(world))[1]


async def test_a_tampered_sealed_value_is_found(world: Scratch) -> None:
    await _tamper(
        world,
        "UPDATE audit_sealed_values SET sealed = sealed || '\\x00'::bytea "
        "WHERE event_id = (SELECT event_id FROM audit_sealed_values LIMIT 1)",
    )
    assert "does not decrypt" in (await _problem(world))[1]


async def test_a_deleted_or_silently_cleared_sealed_value_is_found(world: Scratch) -> None:
    await _tamper(
        world,
        "UPDATE audit_sealed_values SET sealed = NULL WHERE ctid = (SELECT ctid FROM audit_sealed_values LIMIT 1)",
    )
    assert "without a logged redaction" in (await _problem(world))[1]


async def test_a_deleted_sealed_value_is_found(world: Scratch) -> None:
    await _tamper(
        world,
        "DELETE FROM audit_sealed_values WHERE ctid = (SELECT ctid FROM audit_sealed_values LIMIT 1)",
    )
    assert "deleted" in (await _problem(world))[1]


async def test_proofs_between_checkpoints(world: Scratch) -> None:
    first = await world.runtime.seal_checkpoint()
    await build_world(world.runtime.services.uow)
    second = await world.runtime.seal_checkpoint()
    assert first is not None
    assert second is not None
    async with world.runtime.storage.sessions() as session:
        proof = await checkpoints.consistency_proof(session, first.tree_size, second.tree_size)
        path = await checkpoints.inclusion_proof(session, 2, second.tree_size)
        leaf = (
            await session.execute(text("SELECT hash FROM audit_events WHERE seq = 2"))
        ).scalar_one()
    assert merkle.verify_consistency(
        first.tree_size, second.tree_size, first.root_hash, second.root_hash, proof
    )
    forged = bytes(32)
    assert not merkle.verify_consistency(
        first.tree_size, second.tree_size, forged, second.root_hash, proof
    )
    assert merkle.verify_inclusion(leaf, 1, second.tree_size, path, second.root_hash)
    assert not merkle.verify_inclusion(leaf, 1, second.tree_size, path, forged)
    report = await world.runtime.verify_audit()
    assert report.ok
    assert report.checkpoints == 2
