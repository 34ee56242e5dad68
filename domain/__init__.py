"""Hearth's business model and rules: pure Python, standard library only."""
