"""Model folders on this machine: flavors that save and load a framework's models, the
folder's manifest and digests, signature checks at predict time, and moving a folder to and
from a run's artifacts (docs/models.md).

Here, in the client, because saving and loading a model is I/O in the caller's process: the
SDK logs and loads models through it, and serving, a client of the registry, will too.
"""
