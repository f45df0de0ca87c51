"""Notebook capture: the file when it can be found, else the executed cells; and the notebook diff.

IPython is not a dependency, so the kernel is a stand-in module under ``sys.modules["IPython"]``
whose ``get_ipython()`` returns a shell with what capture reads: ``user_ns`` and
``history_manager.input_hist_raw``.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from cairn.client.capture.notebook import NOT_FOUND_WARNING, capture_notebook, notebook_diff


class FakeShell:
    def __init__(self, user_ns: dict[str, Any] | None = None, history: list[str] | None = None) -> None:
        self.user_ns: dict[str, Any] = {} if user_ns is None else user_ns
        if history is not None:
            self.history_manager = types.SimpleNamespace(input_hist_raw=history)


class TerminalInteractiveShell(FakeShell):
    """Named like IPython's terminal shell, which has no notebook to miss."""


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """An imported IPython whose running shell is ``kernel.shell`` (set it in the test)."""
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    state = types.SimpleNamespace(shell=None)
    module = types.ModuleType("IPython")
    module.get_ipython = lambda: state.shell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", module)
    return state


def notebook(*cells: Any) -> Any:
    return new_notebook(cells=list(cells), metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})


def code(cell_id: str, source: str, *, count: int | None = None, stdout: str | None = None) -> Any:
    outputs = [] if stdout is None else [new_output("stream", name="stdout", text=stdout)]
    return new_code_cell(source, id=cell_id, execution_count=count, outputs=outputs)


def write(path: Path, nb: Any) -> Path:
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path


def to_bytes(nb: Any) -> bytes:
    return nbformat.writes(nb).encode("utf-8")


# -- capture_notebook ------------------------------------------------------------------------


def test_outside_ipython_there_is_nothing_to_capture(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert capture_notebook() is None
    assert "IPython" not in sys.modules  # and capture did not import it


def test_ipython_imported_but_no_shell_running(kernel: types.SimpleNamespace) -> None:
    kernel.shell = None
    assert capture_notebook() is None


def test_the_file_named_by_vscode_is_captured_as_saved(
    kernel: types.SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "analysis.ipynb", notebook(code("a", "x = 1"), new_markdown_cell("# Notes", id="b")))
    # VS Code's variable comes first, even when Jupyter names another notebook.
    other = write(tmp_path / "other.ipynb", notebook())
    monkeypatch.setenv("JPY_SESSION_NAME", str(other))
    kernel.shell = FakeShell({"__vsc_ipynb_file__": str(path)}, history=["", "x = 1"])

    captured = capture_notebook()

    assert captured is not None
    assert captured.files == {"analysis.ipynb": path.read_bytes()}
    assert captured.meta == {"source": "file", "path": str(path), "cells": 2}
    assert captured.warnings == []


def test_the_file_named_by_jupyter_server_is_captured(
    kernel: types.SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "train.ipynb", notebook(code("a", "x = 1", count=1, stdout="1\n")))
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    kernel.shell = FakeShell({"__vsc_ipynb_file__": str(tmp_path / "gone.ipynb")}, history=["", "x = 1"])

    captured = capture_notebook()

    assert captured is not None
    assert captured.files == {"train.ipynb": path.read_bytes()}
    assert captured.meta == {"source": "file", "path": str(path), "cells": 1}
    assert captured.warnings == []


def test_a_session_name_relative_to_the_server_root_is_found_in_the_kernels_directory(
    kernel: types.SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "train.ipynb", notebook(code("a", "x = 1")))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JPY_SESSION_NAME", "experiments/train.ipynb")
    kernel.shell = FakeShell()

    captured = capture_notebook()

    assert captured is not None
    assert captured.meta["path"] == str(path)
    assert list(captured.files) == ["train.ipynb"]


def test_without_the_file_the_executed_cells_are_captured_with_one_warning(
    kernel: types.SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "renamed-since.ipynb"))
    kernel.shell = FakeShell(history=["", "import math", "   ", "x = math.pi\nprint(x)\n", "x * 2"])

    captured = capture_notebook()

    assert captured is not None
    assert captured.files == {
        "history.py": b"# In[1]:\nimport math\n\n# In[3]:\nx = math.pi\nprint(x)\n\n# In[4]:\nx * 2\n"
    }
    assert captured.meta == {"source": "history", "path": None, "cells": 3}
    assert captured.warnings == [NOT_FOUND_WARNING]


def test_without_a_history_manager_the_in_list_is_read(kernel: types.SimpleNamespace) -> None:
    kernel.shell = FakeShell({"In": ["", "a = 1", "b = a + 1"]})

    captured = capture_notebook()

    assert captured is not None
    assert captured.files == {"history.py": b"# In[1]:\na = 1\n\n# In[2]:\nb = a + 1\n"}
    assert captured.meta["cells"] == 2


def test_a_terminal_ipython_has_no_notebook_to_warn_about(kernel: types.SimpleNamespace) -> None:
    kernel.shell = TerminalInteractiveShell(history=["", "1 + 1"])

    captured = capture_notebook()

    assert captured is not None
    assert captured.files == {"history.py": b"# In[1]:\n1 + 1\n"}
    assert captured.warnings == []


# -- notebook_diff ---------------------------------------------------------------------------


def test_diff_shows_changed_source_changed_output_and_a_new_cell() -> None:
    old = notebook(
        code("load", "x = 1\nprint(x)", count=1, stdout="1\n"),
        code("keep", "y = 2", count=2),
    )
    new = notebook(
        code("load", "x = 2\nprint(x)", count=1, stdout="2\n"),
        code("keep", "y = 2", count=2),
        code("added", "z = x + y", count=3),
    )

    diff = notebook_diff(to_bytes(old), to_bytes(new))

    assert "modified /cells/0/source" in diff
    assert "-  x = 1" in diff and "+  x = 2" in diff
    assert "/cells/0/outputs/0" in diff
    assert "inserted before /cells/2" in diff and "z = x + y" in diff
    assert "y = 2" not in diff  # the unchanged cell is not shown
    assert "\x1b[" not in diff  # no colour


def test_equal_notebooks_have_no_diff() -> None:
    nb = to_bytes(notebook(code("a", "x = 1", count=1, stdout="1\n")))
    assert notebook_diff(nb, nb) == ""
    assert notebook_diff(None, None) == ""


def test_a_missing_side_is_an_empty_notebook() -> None:
    diff = notebook_diff(None, to_bytes(notebook(code("a", "x = 1"))))
    assert "inserted before /cells/0" in diff and "x = 1" in diff


def test_without_nbdime_the_diff_is_a_line_diff_of_the_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nbdime", None)  # makes ``import nbdime`` fail
    old, new = to_bytes(notebook(code("a", "x = 1"))), to_bytes(notebook(code("a", "x = 2")))

    diff = notebook_diff(old, new)

    assert diff.splitlines()[0] == "(nbdime is not installed: a line diff of the notebook's JSON follows)"
    assert '-    "x = 1"' in diff and '+    "x = 2"' in diff
    assert notebook_diff(old, old) == ""


def test_a_file_that_is_not_a_notebook_gets_a_line_diff() -> None:
    diff = notebook_diff(b"not json\n", b"still not json\n")
    assert diff.splitlines()[0].startswith("(not a readable notebook")
    assert "+still not json" in diff
