"""The ``cairn`` command: one module per command group, assembled in :mod:`cairn.cli.main`."""
