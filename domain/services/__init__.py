"""Use cases: one function each, the only code that commits a unit of work."""
