"""Entities, limits, params, metric columns and errors: pure code with no I/O."""
