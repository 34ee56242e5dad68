"""Adapters to the outside world: PostgreSQL, cryptography, the event log, exports."""
