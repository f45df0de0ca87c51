"""Debian's Chromium, headless, as every browser-driving script here launches it: the paint
benchmark, `make screenshots` and the browser tests (tests/ui/conftest.py) import this module.

Stdlib only, like _procs.py. Never `playwright install`: its browser download fails here.
"""

from __future__ import annotations

import os
import shutil

#: Headless, and nothing that reaches beyond the machine (no updates, sync or QUIC probes):
#: without these, Chromium keeps trying hosts this machine's closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

NOT_FOUND = "no Chromium: `apt-get install chromium` or set CAIRN_CHROMIUM (never `playwright install`)"


def find_chromium() -> str | None:
    """``CAIRN_CHROMIUM``, else Debian's ``/usr/bin/chromium``, else ``chromium`` on the PATH."""
    configured = os.environ.get("CAIRN_CHROMIUM")
    if configured:
        return configured
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")
