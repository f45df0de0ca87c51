"""Metadata persistence: the store interface, its registry, and the SQL implementation."""
