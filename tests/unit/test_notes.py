"""Signed notes and checkpoints against the spec's formats and Go's note package's vectors.

The vectors are golang.org/x/mod/sumdb/note's own tests (note_test.go): a Python signer that
reproduces Go's signature byte for byte, and reads Go's notes, speaks the same format any
transparency-log verifier does (c2sp.org/signed-note, c2sp.org/tlog-checkpoint).
"""

from __future__ import annotations

import base64
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from infra.crypto import signing
from infra.eventlog import merkle, notes
from infra.eventlog.checkpoints import SignedCheckpoint, checkpoint_text
from infra.eventlog.logs import INSTALLATION_LOG, LEGACY_LOG, Log

# From golang.org/x/mod/sumdb/note/note_test.go.
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"


def _peter() -> tuple[str, Ed25519PrivateKey]:
    _, _, name, _, encoded = PETER_SKEY.split("+", 4)
    seed = base64.b64decode(encoded)
    assert seed[:1] == notes.ED25519
    return name, signing.signing_key(seed[1:])


def test_signing_reproduces_gos_note_byte_for_byte() -> None:
    name, key = _peter()
    assert notes.sign(TEXT, name, key) == TEXT + "\n" + PETER_SIG
    assert notes.verifier_key(name, key.public_key()) == PETER_VKEY
    assert notes.key_id(name, key.public_key()).hex() == "c74f20a3"


def test_gos_notes_verify_and_unknown_signatures_are_ignored() -> None:
    peter, enoch = notes.Verifier.parse(PETER_VKEY), notes.Verifier.parse(ENOCH_VKEY)
    note = notes.parse(TEXT + "\n" + PETER_SIG + ENOCH_SIG)
    assert note.text == TEXT
    assert note.verified_by(peter)
    assert note.verified_by(enoch)
    assert not notes.parse(TEXT + "\n" + ENOCH_SIG).verified_by(peter)  # no signature of his


def test_a_changed_text_or_signature_fails() -> None:
    peter = notes.Verifier.parse(PETER_VKEY)
    assert not notes.parse(TEXT.replace("answer", "answers") + "\n" + PETER_SIG).verified_by(peter)
    corrupt = PETER_SIG[:60] + "ABCD" + PETER_SIG[64:]
    assert not notes.parse(TEXT + "\n" + corrupt).verified_by(peter)


@pytest.mark.parametrize(
    "message",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        TEXT
        + "\n"
        + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
    ],
)
def test_malformed_notes_are_refused_as_go_refuses_them(message: str) -> None:
    with pytest.raises(notes.MalformedNote):
        notes.parse(message)


@pytest.mark.parametrize(
    "vkey",
    [
        PETER_VKEY[:-1],
        PETER_VKEY.replace("c74f20a3", "c74f20a4"),
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_bad_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(notes.MalformedNote):
        notes.Verifier.parse(vkey)


def test_a_checkpoint_is_a_tlog_checkpoint_note_signed_under_its_origin() -> None:
    key = signing.signing_key(bytes(range(32)))
    log = Log(uuid.UUID(int=7), uuid.UUID(int=42))
    root = merkle.root([b"a", b"b", b"c"])
    note = notes.sign(checkpoint_text(log.origin, 3, root), log.origin, key)
    lines = note.split("\n")
    assert lines[0] == f"hearth/{uuid.UUID(int=7)}/study/{uuid.UUID(int=42)}"
    assert lines[1:3] == ["3", base64.b64encode(root).decode()]
    assert lines[3] == ""  # no extension lines: the blank line before the signature
    assert lines[4].startswith(f"— {log.origin} ")
    parsed = SignedCheckpoint.parse(note)
    assert (parsed.origin, parsed.tree_size, parsed.root_hash) == (log.origin, 3, root)
    assert parsed.signed_by(key.public_key())
    assert notes.parse(note).verified_by(
        notes.Verifier.parse(notes.verifier_key(log.origin, key.public_key()))
    )
    assert not parsed.signed_by(signing.signing_key(b"\x09" * 32).public_key())


@pytest.mark.parametrize("size", ["03", "-1", "x"])
def test_checkpoint_sizes_are_plain_decimals(size: str) -> None:
    key = signing.signing_key(bytes(32))
    text = f"hearth/x/installation\n{size}\n{base64.b64encode(bytes(32)).decode()}\n"
    with pytest.raises(notes.MalformedNote):
        SignedCheckpoint.parse(notes.sign(text, "hearth/x/installation", key))


def test_log_names_round_trip() -> None:
    installation = uuid.uuid4()
    for log_id in (INSTALLATION_LOG, LEGACY_LOG, uuid.uuid4()):
        log = Log(installation, log_id)
        assert Log.from_origin(log.origin) == log
        assert notes.valid_name(log.origin)
    assert Log.from_origin("example.com/behind-the-sofa") is None
    assert Log.from_origin(f"hearth/{installation}/study/nope") is None
