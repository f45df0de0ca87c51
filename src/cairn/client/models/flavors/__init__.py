"""Cairn's built-in flavors, one module each; each imports its framework only inside
``save`` and ``load``."""
