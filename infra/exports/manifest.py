"""The signed manifest of an export, and the check that nothing in the export was changed.

`manifest.json` lists every file with its SHA-256, size and row count, the study log's name,
the position and chain head the data reflects, and when it was made; it is RFC 8785 canonical JSON.
`manifest.sig` holds an Ed25519 signature over those exact bytes and the id of the key.
Verification needs a trusted public key (the server's key file, or a PEM file the sponsor
received separately): a manifest re-signed with another key is a forgery.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from domain.exports import MANIFEST, SIGNATURE, ExportFormat
from infra.crypto import signing
from infra.exports.model import Meta, WrittenFile

MANIFEST_VERSION = 1
_CHUNK = 1 << 20


def write_manifest(
    directory: Path,
    *,
    meta: Meta,
    format: ExportFormat,
    files: Sequence[WrittenFile],
    key: Ed25519PrivateKey,
) -> str:
    """Write and sign the manifest; return the SHA-256 (hex) of `manifest.json`."""
    document: dict[str, Any] = {
        "hearthExport": MANIFEST_VERSION,
        "exportId": str(meta.export_id),
        "format": format.value,
        "study": {"id": str(meta.study.id), "code": meta.study.code},
        "createdAt": meta.created_at.isoformat(),
        # The study's own log: nothing here says anything about other studies.
        "eventLog": {"log": meta.log, "position": meta.position, "chainHead": meta.chain_head},
        "files": [
            {"name": f.name, "sha256": f.sha256, "bytes": f.bytes, "rows": f.rows}
            for f in sorted(files, key=lambda f: f.name)
        ],
    }
    body = rfc8785.dumps(document)
    (directory / MANIFEST).write_bytes(body)
    signature = {
        "algorithm": "Ed25519",
        "keyId": signing.key_id(key),
        "signature": base64.b64encode(signing.sign(key, body)).decode(),
    }
    (directory / SIGNATURE).write_bytes(rfc8785.dumps(signature))
    return hashlib.sha256(body).hexdigest()


@dataclass
class Verification:
    problems: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_export(directory: Path, key: Ed25519PublicKey) -> Verification:
    """Check signature, then every listed file (bytes and hash), then that nothing was added."""
    report = Verification()
    try:
        body = (directory / MANIFEST).read_bytes()
        sealed_bytes = (directory / SIGNATURE).read_bytes()
        sealed = json.loads(sealed_bytes)
        signature = base64.b64decode(sealed["signature"], validate=True)
    except (OSError, ValueError, KeyError, TypeError) as error:
        report.problems.append(
            f"manifest or signature missing or unreadable ({type(error).__name__})"
        )
        return report
    # Both files exactly as written: canonical JSON, canonical base64, the one algorithm.
    if (
        rfc8785.dumps(sealed) != sealed_bytes
        or set(sealed) != {"algorithm", "keyId", "signature"}
        or sealed["algorithm"] != "Ed25519"
        or base64.b64encode(signature).decode() != sealed["signature"]
    ):
        report.problems.append(f"{SIGNATURE}: not as signed (changed or not canonical)")
        return report
    if sealed["keyId"] != signing.key_id(key):
        report.problems.append("signed with another key than the one trusted")
        return report
    if not signing.verify(key, body, signature):
        report.problems.append("the manifest's signature does not verify")
        return report
    report.manifest = json.loads(body)
    if rfc8785.dumps(report.manifest) != body:
        report.problems.append(f"{MANIFEST}: not canonical JSON")
    listed = {MANIFEST, SIGNATURE}
    for entry in report.manifest.get("files", []):
        name = str(entry["name"])
        listed.add(name)
        report.problems += _check_file(directory, name, entry)
    present = {p.relative_to(directory).as_posix(): p for p in directory.rglob("*")}
    report.problems += [
        f"{name}: not in the manifest"
        for name, path in sorted(present.items())
        if name not in listed or path.is_symlink() or not path.is_file()
    ]
    return report


def _check_file(directory: Path, name: str, entry: dict[str, Any]) -> list[str]:
    path = directory / name
    if not path.resolve().is_relative_to(directory.resolve()):
        return [f"{name}: outside the export"]
    if not path.is_file():
        return [f"{name}: missing"]
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    if size != entry["bytes"] or digest.hexdigest() != entry["sha256"]:
        return [f"{name}: changed (SHA-256 or size differs from the manifest)"]
    return []
