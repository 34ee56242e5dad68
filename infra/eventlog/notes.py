"""C2SP signed notes with Ed25519 (c2sp.org/signed-note), as Go's golang.org/x/mod/sumdb/note
reads and writes them.

A note is a text ending in a newline, a blank line, then signature lines
"— <key name> base64(key id || signature)". The key id is the first four bytes of
SHA-256(key name || 0x0A || 0x01 || public key); verifier keys are written
"<name>+<key id hex>+base64(0x01 || public key)".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from infra.crypto import signing

ED25519 = b"\x01"
_DASH = "\u2014 "
_MAX_SIGNATURES = 100


class MalformedNote(ValueError):
    """Not a signed note: wrong shape, a bad name, or text with control characters."""


def valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte key id of an Ed25519 key under `name`."""
    digest = hashlib.sha256(name.encode() + b"\n" + ED25519 + signing.raw_public_key(public_key))
    return digest.digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The verifier key string a note verifier is configured with."""
    raw = ED25519 + signing.raw_public_key(public_key)
    return f"{name}+{key_id(name, public_key).hex()}+{base64.b64encode(raw).decode()}"


@dataclass(frozen=True)
class Verifier:
    name: str
    key: Ed25519PublicKey

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.key)

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """A verifier from its "<name>+<hex id>+<base64 key>" string."""
        name, _, rest = vkey.partition("+")
        hex_id, _, encoded = rest.partition("+")
        try:
            raw = base64.b64decode(encoded, validate=True)
            claimed = bytes.fromhex(hex_id) if len(hex_id) == 8 else b""
        except (binascii.Error, ValueError):
            raise MalformedNote("malformed verifier key") from None
        if not valid_name(name) or len(raw) != 33 or raw[:1] != ED25519:
            raise MalformedNote("malformed verifier key")
        verifier = cls(name, signing.public_key_from_raw(raw[1:]))
        if verifier.id != claimed:
            raise MalformedNote("verifier key id does not match its key")
        return verifier


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return f"{_DASH}{self.name} {base64.b64encode(self.key_id + self.signature).decode()}\n"


def sign(text: str, name: str, key: Ed25519PrivateKey) -> str:
    """The signed note: `text` (one or more lines, each ending in a newline) signed by `key`."""
    _check_text(text)
    if not valid_name(name):
        raise MalformedNote("malformed key name")
    signature = Signature(name, key_id(name, key.public_key()), signing.sign(key, text.encode()))
    return f"{text}\n{signature.line()}"


@dataclass(frozen=True)
class Note:
    text: str
    signatures: tuple[Signature, ...]

    def verified_by(self, verifier: Verifier) -> bool:
        """Whether a signature by this verifier's key (same name and id) verifies the text.

        Signatures by other keys are ignored, as the spec requires; one by this key that fails
        makes the note unverified.
        """
        mine = [s for s in self.signatures if (s.name, s.key_id) == (verifier.name, verifier.id)]
        body = self.text.encode()
        return bool(mine) and all(signing.verify(verifier.key, body, s.signature) for s in mine)


def parse(message: str) -> Note:
    """Split a signed note into its text and signatures; raises MalformedNote."""
    if not message.endswith("\n"):
        raise MalformedNote("a note ends with a newline")
    cut = message.rfind("\n\n")
    if cut < 0:
        raise MalformedNote("no blank line before the signatures")
    text, lines = message[: cut + 1], message[cut + 2 :].splitlines()
    _check_text(text)
    if not lines or len(lines) > _MAX_SIGNATURES:
        raise MalformedNote("a note has between one and 100 signatures")
    return Note(text, tuple(_signature(line) for line in lines))


def _signature(line: str) -> Signature:
    name, _, encoded = line.removeprefix(_DASH).partition(" ")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise MalformedNote("a signature is not base64") from None
    if not line.startswith(_DASH) or not valid_name(name) or len(raw) < 5:
        raise MalformedNote("malformed signature line")
    return Signature(name, raw[:4], raw[4:])


def _check_text(text: str) -> None:
    if not text.endswith("\n") or any(c < " " and c != "\n" for c in text):
        raise MalformedNote("note text must end in a newline and hold no control characters")
