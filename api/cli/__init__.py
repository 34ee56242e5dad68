"""The `hearth` command-line tool."""
