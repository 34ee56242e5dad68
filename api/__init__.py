"""The delivery layer: GraphQL over HTTP, the command-line tool, and the composition root."""
