"""Receipts of diary entries and reading batches, proved against signed checkpoints and
checked by an independent verifier (including after tampering)."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import uuid

import pytest

from infra.eventlog.logs import Log
from infra.eventlog.receipts import NotYetSealed, Receipt, ReceiptMismatch
from tests import receipt_verifier
from tests.conftest import Scratch
from tests.world import add_diary, build_world


async def test_a_diary_receipt_is_proved_and_verified_offline(scratch: Scratch) -> None:
    runtime = scratch.runtime
    world = await build_world(runtime.services.uow)
    diary = await add_diary(runtime.services.uow, world)
    receipt = await runtime.log.receipt("DiaryEntry", diary.entry_id)
    assert receipt is not None
    with pytest.raises(NotYetSealed):
        await runtime.log.receipt_evidence(receipt)

    await runtime.seal_checkpoints()
    proof = await runtime.log.receipt_evidence(receipt)
    log = Log.from_origin(receipt.log)
    assert log is not None
    assert log.id == world.study.id
    vkey = runtime.log.verifier_key(log)
    document = receipt.document()
    assert receipt_verifier.verify(document, proof, vkey)
    assert json.loads(str(proof["eventBody"]))["entity_id"] == str(diary.entry_id)

    assert proof["checkpoint"] == proof["checkpoint"].strip() + "\n"


async def test_tampering_with_anything_fails_the_check(scratch: Scratch) -> None:
    runtime = scratch.runtime
    world = await build_world(runtime.services.uow)
    diary = await add_diary(runtime.services.uow, world)
    await runtime.seal_checkpoints()
    receipt = await runtime.log.receipt("DiaryEntry", diary.entry_id)
    assert receipt is not None
    proof = await runtime.log.receipt_evidence(receipt)
    vkey = runtime.log.verifier_key(Log.from_origin(receipt.log))  # type: ignore[arg-type]
    document = receipt.document()
    assert receipt_verifier.verify(document, proof, vkey)

    def changed(key: str, value: object) -> dict[str, object]:
        copied = copy.deepcopy(proof)
        copied[key] = value
        return copied

    body = str(proof["eventBody"])
    path = [str(p) for p in proof["proof"]]
    flipped = base64.b64encode(bytes(32)).decode()
    note = str(proof["checkpoint"])
    tampered = [
        changed("eventBody", body.replace('"submitted"', '"rejected"')),
        changed("previousHash", flipped),
        changed("proof", [flipped, *path[1:]] if path else [flipped]),
        changed("leafIndex", int(str(proof["leafIndex"])) + 1),
        changed("checkpoint", note.replace(note.splitlines()[1], "999999", 1)),
    ]
    assert path  # the log holds more than one event: the path is not empty
    for bad in tampered:
        assert not receipt_verifier.verify(document, bad, vkey)
    other = runtime.log.verifier_key(Log(log_installation(receipt), world.people[0].id))
    assert not receipt_verifier.verify(document, proof, other)  # another log's key name
    forged = dict(document, digest="sha256:" + "0" * 64)
    assert not receipt_verifier.verify(forged, proof, vkey)
    with pytest.raises(ReceiptMismatch):
        await runtime.log.receipt_evidence(dataclasses.replace(receipt, digest=forged["digest"]))


def log_installation(receipt: Receipt) -> uuid.UUID:
    log = Log.from_origin(receipt.log)
    assert log is not None
    return log.installation


async def test_a_reading_batch_has_a_receipt(scratch: Scratch) -> None:
    runtime = scratch.runtime
    world = await build_world(runtime.services.uow)
    diary = await add_diary(runtime.services.uow, world)
    await runtime.seal_checkpoints()
    async with runtime.storage.sessions() as session:
        from sqlalchemy import text

        batch = await session.scalar(
            text("SELECT entity_id FROM audit_events WHERE entity_type = 'ReadingBatch' LIMIT 1")
        )
    assert batch is not None, diary
    receipt = await runtime.log.receipt("ReadingBatch", batch)
    assert receipt is not None
    proof = await runtime.log.receipt_evidence(receipt)
    vkey = runtime.log.verifier_key(Log.from_origin(receipt.log))  # type: ignore[arg-type]
    assert receipt_verifier.verify(receipt.document(), proof, vkey)
