"""Cairn's version, here so that every layer can read it without importing the SDK.

(``cairn/__init__.py`` re-exports the client: the server importing it would point upwards.)
"""

__version__ = "0.1.0"
