"""An installation from before per-study logs: its single log is migrated as the legacy log,
verifies exactly as it was signed, gets its unsealed tail sealed, and takes no new events."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from api.app import Runtime, build_runtime
from api.settings import Environment, Settings
from domain.services import studies
from infra.crypto import signing
from infra.crypto.keys import KeyFileProvider, Purpose
from infra.db import migrations, provision
from infra.db.engine import create_engine
from infra.eventlog import merkle
from infra.eventlog.chain import GENESIS, link, record_of
from infra.eventlog.checkpoints import Checkpoint
from infra.eventlog.logs import LEGACY_LOG
from tests.clock import CLOCK, PinnedClock
from tests.factories import admin, caller

LONG_AGO = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
COLUMNS = (
    "seq, id, recorded_at, actor_kind, actor_id, actor_role, study_id, site_id, participant_id, "
    "entity_type, entity_id, action, fields, reason, origin, prev_hash, hash"
)


def _row(seq: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "id": uuid.uuid4(),
        "recorded_at": LONG_AGO + timedelta(minutes=seq),
        "actor_kind": "STAFF",
        "actor_id": uuid.uuid4(),
        "actor_role": "ADMIN",
        "study_id": None,
        "site_id": None,
        "participant_id": None,
        "entity_type": "Note",  # no state table: only the log is compared here
        "entity_id": uuid.uuid4(),
        "action": "created",
        "fields": [{"field": "title", "old": None, "new": f"Trial {seq} - Ünïcødé"}],
        "reason": None,
        "origin": {"requestId": f"r-{seq}", "appVersion": None},
    }


async def _legacy_database(owner: str, keys: KeyFileProvider) -> list[bytes]:
    """The schema before per-study logs, five chained events and a checkpoint over three."""
    engine = create_engine(owner, pool_size=1)
    hashes, tree, prev = [], merkle.MerkleAccumulator(), GENESIS
    try:
        await migrations.upgrade(engine, "0006")
        async with engine.begin() as connection:
            for seq in range(1, 6):
                row = _row(seq)
                digest = link(prev, record_of(row))
                values = row | {
                    "fields": json.dumps(row["fields"]),
                    "origin": json.dumps(row["origin"]),
                    "prev_hash": prev,
                    "hash": digest,
                }
                await connection.execute(
                    text(
                        f"INSERT INTO audit_events ({COLUMNS}) VALUES (:seq, :id, :recorded_at, "
                        ":actor_kind, :actor_id, :actor_role, :study_id, :site_id, "
                        ":participant_id, :entity_type, :entity_id, :action, "
                        "CAST(:fields AS jsonb), NULL, CAST(:origin AS jsonb), :prev_hash, :hash)"
                    ),
                    values,
                )
                hashes.append(digest)
                prev = digest
                tree.append(digest)
                if seq == 3:
                    await _legacy_checkpoint(connection, keys, tree, digest)
    finally:
        await engine.dispose()
    return hashes


async def _legacy_checkpoint(
    connection: Any, keys: KeyFileProvider, tree: merkle.MerkleAccumulator, head: bytes
) -> None:
    key = signing.signing_key(keys.purpose_key(Purpose.CHECKPOINT_SIGNING))
    unsigned = Checkpoint(LEGACY_LOG, 3, tree.root(), head, LONG_AGO, signing.key_id(key), b"")
    await connection.execute(
        text(
            "INSERT INTO audit_checkpoints (tree_size, root_hash, chain_head, frontier, "
            "created_at, key_id, signature) VALUES (3, :root, :head, :frontier, :at, :key, :sig)"
        ),
        {
            "root": unsigned.root_hash,
            "head": head,
            "frontier": tree.frontier(),
            "at": LONG_AGO,
            "key": unsigned.key_id,
            "sig": signing.sign(key, unsigned.message()),
        },
    )


@pytest.fixture
async def migrated(server_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    name = f"hearth_legacy_{secrets.token_hex(4)}"
    await provision.ensure_database(server_url, name)
    owner = provision.with_database(server_url, name)
    keys = KeyFileProvider.open_or_create(tmp_path / "keys.json")
    await _legacy_database(owner, keys)
    engine = create_engine(owner, pool_size=1)
    try:
        await migrations.upgrade(engine)  # to per-study logs
    finally:
        await engine.dispose()
    settings = Settings(
        env=Environment.TEST,
        database_url=SecretStr(owner),
        key_file=tmp_path / "keys.json",
        checkpoint_dir=tmp_path / "checkpoints",
        db_pool_size=2,
    )
    runtime = build_runtime(settings, clock=CLOCK)
    try:
        await runtime.bind_keys()  # bound on its first start: the file signed its checkpoints
        yield runtime
    finally:
        await runtime.close()
        await provision.drop_database(server_url, name)


async def test_the_old_log_verifies_as_it_was_signed_and_its_tail_gets_sealed(
    migrated: Runtime, clock: PinnedClock
) -> None:
    report = await migrated.verify_audit()
    (legacy,) = report.logs
    assert legacy.origin.endswith("/legacy")
    assert (legacy.events, legacy.checkpoints, legacy.covered) == (5, 1, 3)
    # Two events have waited months for a checkpoint: the first integrator run seals them.
    assert [p.position for p in report.problems] == [4]
    (sealed,) = await migrated.seal_checkpoints()
    assert (sealed.log_id, sealed.tree_size) == (LEGACY_LOG, 5)
    report = await migrated.verify_audit()
    assert report.ok, report.problems
    assert report.logs[0].checkpoints == 2


async def test_new_events_go_to_the_new_logs_and_the_old_one_still_catches_tampering(
    migrated: Runtime,
) -> None:
    await migrated.seal_checkpoints()
    study = await studies.create_study(
        uow=migrated.services.uow(), ctx=caller(admin()), code="NEW", title="After"
    )
    await migrated.seal_checkpoints()
    report = await migrated.verify_audit()
    assert report.ok, report.problems
    sizes = {r.origin.rsplit("/", 1)[-1]: r.events for r in report.logs}
    assert sizes == {"legacy": 5, str(study.id): 1}
    engine = create_engine(migrated.settings.database_url.get_secret_value(), pool_size=1)  # type: ignore[union-attr]
    try:
        async with engine.begin() as connection:
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
            await connection.execute(
                text(
                    "UPDATE audit_events SET body = replace(body, 'Trial 2', 'Trial 9') WHERE ingest = 2"
                )
            )
    finally:
        await engine.dispose()
    problem = (await migrated.verify_audit()).problem
    assert problem is not None
    assert problem.log.endswith("/legacy")
    assert (problem.position, problem.reason) == (
        2,
        "its content does not match its hash (changed)",
    )
