"""Authentication adapters: argon2id password hashing and Ed25519-signed access tokens."""
