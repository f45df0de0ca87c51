"""The notebook a run was started from, and a cell-by-cell diff of two notebooks.

:func:`capture_notebook` is for runs started inside Jupyter or IPython. It looks for the
notebook file (VS Code's ``__vsc_ipynb_file__``, then Jupyter Server's ``JPY_SESSION_NAME``)
and, when none is found, keeps the cells the kernel executed instead, with one warning. It
never imports IPython (a run outside IPython pays nothing) and never raises.

:func:`notebook_diff` shows how two ``.ipynb`` files differ, sources and outputs, cell by cell,
with nbdime. nbdime and nbformat are imported only when a diff is asked for; without them the
diff is a line diff of the JSON, and says so.
"""

from __future__ import annotations

import difflib
import io
import json
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

#: The warning when the notebook file cannot be located.
NOT_FOUND_WARNING = "the notebook file could not be found; its executed cells were captured instead"
#: The file name of the executed cells when the notebook file cannot be located.
HISTORY_FILE = "history.py"


@dataclass(frozen=True)
class NotebookCapture:
    """What :func:`capture_notebook` found: the tree of a ``notebook`` snapshot."""

    #: ``{"<name>.ipynb": bytes}``, the notebook as last saved on disk (edits not yet saved are
    #: not in it), or ``{"history.py": bytes}``, the executed cells under ``# In[n]:`` headers.
    files: dict[str, bytes]
    #: ``{"source": "file" | "history", "path": str | None, "cells": int | None}``; ``cells`` is
    #: None for a file that is not readable JSON.
    meta: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def capture_notebook() -> NotebookCapture | None:
    """The notebook this process runs in, or None outside IPython."""
    shell = ipython_shell()
    if shell is None:
        return None
    try:
        user_ns = getattr(shell, "user_ns", None)
        path = _notebook_path(user_ns if isinstance(user_ns, dict) else {})
        if path is not None:
            try:
                data = path.read_bytes()
            except OSError:
                pass
            else:
                meta = {"source": "file", "path": str(path), "cells": _count_cells(data)}
                return NotebookCapture(files={path.name: data}, meta=meta)
        cells = _executed_cells(shell)
        text = "\n".join(f"# In[{n}]:\n{source.rstrip()}\n" for n, source in cells)
        # A terminal IPython has no notebook to miss.
        terminal = type(shell).__name__ == "TerminalInteractiveShell"
        return NotebookCapture(
            files={HISTORY_FILE: text.encode("utf-8")},
            meta={"source": "history", "path": None, "cells": len(cells)},
            warnings=[] if terminal else [NOT_FOUND_WARNING],
        )
    except Exception as exc:  # a shell unlike any we know must not stop the run
        return NotebookCapture(
            files={},
            meta={"source": "history", "path": None, "cells": 0},
            warnings=[f"the notebook could not be captured ({type(exc).__name__}: {exc})"],
        )


def ipython_shell() -> object | None:
    """The running IPython shell, or None outside IPython."""
    # Only an IPython someone already imported: importing it here would cost every script.
    module = sys.modules.get("IPython")
    get_ipython = getattr(module, "get_ipython", None)
    if not callable(get_ipython):
        return None
    try:
        shell: object | None = get_ipython()
    except Exception:
        return None
    return shell


def in_kernel() -> bool:
    """True in a Jupyter kernel (a notebook, JupyterLab, VS Code), where output can be a widget;
    False in a terminal IPython or a plain script."""
    # ipykernel's shell carries the kernel it answers for; a terminal IPython has none.
    return "ipykernel" in sys.modules and getattr(ipython_shell(), "kernel", None) is not None


def _notebook_path(user_ns: dict[str, Any]) -> Path | None:
    candidates: list[Path] = []
    vscode = user_ns.get("__vsc_ipynb_file__")
    if isinstance(vscode, str | os.PathLike) and str(vscode):
        candidates.append(Path(vscode))
    session = os.environ.get("JPY_SESSION_NAME", "")
    if session.endswith(".ipynb"):
        # Absolute when the server knows the file's directory; otherwise relative to the
        # server's root, while the kernel runs in the notebook's own directory.
        candidates += [Path(session), Path(Path(session).name)]
    for candidate in candidates:
        if candidate.suffix == ".ipynb" and candidate.is_file():
            return candidate.absolute()
    return None


def _executed_cells(shell: object) -> list[tuple[int, str]]:
    """``(execution number, source)`` of each non-empty executed cell, oldest first."""
    history = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    if not isinstance(history, Sequence) or isinstance(history, str):
        user_ns = getattr(shell, "user_ns", None)
        history = user_ns.get("In") if isinstance(user_ns, dict) else None
    if not isinstance(history, Sequence) or isinstance(history, str):
        return []
    # IPython pads index 0 with "" so that index n is the cell In[n].
    return [(n, source) for n, source in enumerate(history) if isinstance(source, str) and source.strip()]


def _count_cells(data: bytes) -> int | None:
    try:
        notebook = json.loads(data)
    except ValueError:
        return None
    if not isinstance(notebook, dict):
        return None
    if isinstance(notebook.get("cells"), list):
        return len(notebook["cells"])
    worksheets = notebook.get("worksheets")  # nbformat 3
    if isinstance(worksheets, list):
        return sum(len(w.get("cells", [])) for w in worksheets if isinstance(w, dict))
    return None


def notebook_diff(old: bytes | None, new: bytes | None) -> str:
    """How notebook ``new`` differs from ``old``, cell by cell, sources and outputs; "" when equal.

    A missing side (None) is an empty notebook. Cell ids are left out of the diff: they are
    random and say nothing about the code. Without nbdime and nbformat, or for a file that is
    not a notebook, the result is a line diff of the JSON, whose first line says so.
    """
    try:
        import nbdime
        import nbformat
        from nbdime.prettyprint import PrettyPrintConfig, pretty_print_diff
    except ImportError:
        return _json_diff(old, new, "nbdime is not installed")

    try:
        # nbformat warns about what it repairs while reading (missing cell ids, an old minor
        # version): a diff is no place for that.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            before, after = _read_notebook(nbformat, old), _read_notebook(nbformat, new)
            diff = nbdime.diff_notebooks(before, after)
    except Exception as exc:
        return _json_diff(old, new, f"not a readable notebook ({type(exc).__name__})")
    if not diff:
        return ""
    out = io.StringIO()
    # git and diff would run as subprocesses (and git adds colour): difflib gives the same text.
    config = PrettyPrintConfig(
        out=out, include=SimpleNamespace(id=False), use_git=False, use_diff=False, use_color=False
    )
    pretty_print_diff(before, diff, "", config)
    return str(out.getvalue())


def _read_notebook(nbformat: Any, data: bytes | None) -> Any:
    # ``nbformat`` as Any: its functions carry no annotations.
    if data is None:
        return nbformat.v4.new_notebook()
    return nbformat.reads(data.decode("utf-8"), as_version=4)


def _json_diff(old: bytes | None, new: bytes | None, why: str) -> str:
    a = (old or b"").decode("utf-8", errors="replace").splitlines(keepends=True)
    b = (new or b"").decode("utf-8", errors="replace").splitlines(keepends=True)
    lines = list(difflib.unified_diff(a, b, "a", "b"))
    if not lines:
        return ""
    body = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    return f"({why}: a line diff of the notebook's JSON follows)\n{body}"
