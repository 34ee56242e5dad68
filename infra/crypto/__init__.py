"""Cryptography: key-encryption keys, envelope encryption, blind indexes, signatures."""
