"""The tamper-evident event log: canonical records, hash chain, appends and verification."""
