"""The cross-process change feed: a compact NOTIFY after commit, and a per-process listener."""
