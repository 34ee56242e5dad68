"""The coordinator web console at /console: server-rendered pages over the domain services."""
