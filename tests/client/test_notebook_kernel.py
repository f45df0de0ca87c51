"""A real notebook, executed by nbclient in a real IPython kernel running this interpreter: what a
person sees when Cairn is used from Jupyter (the run's summary, Api results as tables, the
upload's progress bar), read from the notebook's outputs as Jupyter would save them."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import cairn

nbformat = pytest.importorskip("nbformat", reason="notebooks are read and written with nbformat")
nbclient = pytest.importorskip("nbclient", reason="the notebook is executed by nbclient")
pytest.importorskip("ipykernel", reason="the notebook runs in an IPython kernel")

NAME = '<script>alert("run")</script>'
KERNEL = "cairn-test-venv"
#: The notebook: each cell as a person would write it.
CELLS = [
    # 0: a run, logged as in any training script
    "import cairn\n"
    f"run = cairn.init('notebook', name={NAME!r}, config={{'lr': 0.1, 'optimizer': '<adam>'}})\n"
    "for step in range(5):\n"
    "    run.log({'val/acc': step / 4, 'loss': 1 / (step + 1)})\n"
    "print(run.id)",
    # 1: the run, displayed
    "run",
    # 2: an artifact large enough for a progress bar (the SDK's threshold, no lower)
    "from cairn.client.artifacts import PROGRESS_ABOVE_BYTES\n"
    "with open('weights.bin', 'wb') as f:\n"
    "    f.truncate(PROGRESS_ABOVE_BYTES)\n"
    "run.log_artifact('weights.bin')\n"
    "run.flush()",
    # 3: a search through the Api
    "run.finish()\napi = cairn.Api()\napi.runs('notebook', where=\"params.optimizer = '<adam>'\")",
    # 4: one run read back
    "api.run(run.id)",
    # 5: a metric's history
    "api.history(run.id, 'val/acc')",
    # 6: the project list
    "api.projects()",
]


@pytest.fixture
def kernel_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernel spec for this interpreter, with Jupyter's and IPython's folders in tmp_path, so
    neither the machine's kernels nor its profiles take part."""
    for variable, folder in {
        "HOME": "home",
        "JUPYTER_CONFIG_DIR": "jupyter-config",
        "JUPYTER_DATA_DIR": "jupyter-data",
        "JUPYTER_RUNTIME_DIR": "jupyter-runtime",
        "IPYTHONDIR": "ipython",
    }.items():
        (tmp_path / folder).mkdir()
        monkeypatch.setenv(variable, str(tmp_path / folder))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter-data"))
    monkeypatch.delenv("CAIRN_UI_URL", raising=False)
    spec = tmp_path / "jupyter-data" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    source = str(Path(cairn.__file__).parents[1])  # the Cairn under test, wherever it is
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Cairn tests",
        "language": "python",
        "env": {"PYTHONPATH": source},
    }
    (spec / "kernel.json").write_text(json.dumps(kernel))
    return KERNEL


def execute(cells: list[str], kernel_name: str, folder: Path) -> Any:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    client = nbclient.NotebookClient(
        notebook, kernel_name=kernel_name, timeout=180, resources={"metadata": {"path": str(folder)}}
    )
    client.execute()
    # As Jupyter saves it: what a person opening the file later sees.
    return nbformat.reads(nbformat.writes(notebook), as_version=4)


def html_of(cell: Any) -> str:
    found = [out["data"]["text/html"] for out in cell.outputs if "text/html" in out.get("data", {})]
    assert len(found) == 1, cell.outputs
    return str(found[0])


def stderr_of(cell: Any) -> str:
    return "".join(out["text"] for out in cell.outputs if out.output_type == "stream" and out.name == "stderr")


def test_a_notebook_shows_the_run_the_api_tables_and_the_upload_bar(kernel_name: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()

    notebook = execute(CELLS, kernel_name, work)

    cells = notebook.cells
    assert not [out for cell in cells for out in cell.outputs if out.output_type == "error"]
    run_id = "".join(out["text"] for out in cells[0].outputs if out.output_type == "stream").strip()
    page = f"http://127.0.0.1:5055/runs/{run_id}"

    summary = html_of(cells[1])
    assert summary.startswith('<div class="cairn-run">')
    assert "&lt;script&gt;alert(&quot;run&quot;)&lt;/script&gt;" in summary and "<script" not in summary
    assert "&lt;adam&gt;" in summary and "val/acc" in summary and "running" in summary
    assert f'href="{page}"' in summary and "cairn ui" in summary

    bar = cells[2].outputs
    if importlib.util.find_spec("ipywidgets") is not None:
        widgets = [out for out in bar if "application/vnd.jupyter.widget-view+json" in out.get("data", {})]
        assert widgets, bar
    else:  # a text bar in the cell, not tqdm's warning that ipywidgets is missing
        err = stderr_of(cells[2])
        assert "cairn: weights.bin" in err and "100%" in err
        assert "IProgress" not in err

    table = html_of(cells[3])
    assert table.startswith('<table class="cairn-table">') and "1 run" in table
    assert f'href="{page}"' in table and "&lt;adam&gt;" in table and "<script" not in table

    read_back = html_of(cells[4])
    assert read_back.startswith('<div class="cairn-run">') and "finished" in read_back
    assert f'href="{page}"' in read_back

    history = html_of(cells[5])
    assert "val/acc: 5 points" in history and "0.75" in history

    projects = html_of(cells[6])
    assert 'href="http://127.0.0.1:5055/projects/notebook"' in projects

    api = cairn.Api()  # the kernel wrote where this test reads: CAIRN_HOME is inherited
    assert [a.path for a in api.artifacts(run_id)] == ["weights.bin"]
    assert api.run(run_id).name == NAME
