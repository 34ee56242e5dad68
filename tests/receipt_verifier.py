"""An independent receipt verifier: the proof document, the checkpoint note and the key only.

Written from RFC 6962/9162 and c2sp.org (signed-note, tlog-checkpoint), with nothing from
Hearth's own code, as a participant's app (or anyone they trust) would check a receipt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _root_from_path(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes | None:
    """RFC 9162 section 2.1.3.2: the root an inclusion path leads to, None if malformed."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, _sha(b"\x00" + leaf)
    for p in path:
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            r = _sha(b"\x01" + p + r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _sha(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def _signed_text(note: str, vkey: str) -> str | None:
    """The note's text if a signature by `vkey` verifies it."""
    name, key_hex, key_b64 = vkey.split("+", 2)
    raw = base64.b64decode(key_b64)
    if raw[:1] != b"\x01" or len(raw) != 33:
        return None
    key = Ed25519PublicKey.from_public_bytes(raw[1:])
    key_id = _sha(name.encode() + b"\n" + raw)[:4]
    if key_id.hex() != key_hex:
        return None
    cut = note.rfind("\n\n")
    text, lines = note[: cut + 1], note[cut + 2 :].splitlines()
    for line in lines:
        signer, _, encoded = line.removeprefix("\u2014 ").partition(" ")
        blob = base64.b64decode(encoded)
        if signer == name and blob[:4] == key_id:
            try:
                key.verify(blob[4:], text.encode())
            except InvalidSignature:
                return None
            return text
    return None


def verify(receipt: dict[str, Any], proof: dict[str, Any], vkey: str) -> bool:
    """Whether the receipt's event is in the log, unchanged, under a checkpoint `vkey` signed."""
    try:
        body = proof["eventBody"].encode()
        if "sha256:" + hashlib.sha256(body).hexdigest() != receipt["digest"]:
            return False
        if proof["eventId"] != receipt["eventId"] or proof["log"] != receipt["log"]:
            return False
        leaf = _sha(base64.b64decode(proof["previousHash"]) + body)  # the event's chain hash
        text = _signed_text(proof["checkpoint"], vkey)
        if text is None:
            return False
        origin, size, root_b64 = text.splitlines()[:3]
        if origin != receipt["log"] or not vkey.startswith(origin + "+"):
            return False
        path = [base64.b64decode(p) for p in proof["proof"]]
        root = _root_from_path(leaf, proof["leafIndex"], int(size), path)
        return root is not None and root == base64.b64decode(root_b64)
    except (KeyError, ValueError, binascii.Error, TypeError):
        return False
