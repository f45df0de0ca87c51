"""Photograph what a notebook shows of Cairn (docs/integrations/jupyter.md).

Executes ``examples/integrations/jupyter.ipynb`` in an IPython kernel on this interpreter, with
a throwaway ``CAIRN_HOME``, lays its cells out as a notebook page does (the code, then each
output: HTML as HTML, text as text), and photographs that page in Debian's Chromium into
``docs/screenshots/integration-jupyter.png``. Jupyter's own front end is not needed: the HTML
is exactly what it would insert.
"""

from __future__ import annotations

import html
import os
import sys
import tempfile
from pathlib import Path

import nbclient
import nbformat
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "integrations" / "jupyter.ipynb"
OUT = ROOT / "docs" / "screenshots" / "integration-jupyter.png"
sys.path.insert(0, str(ROOT / "bench"))
from _chromium import CHROMIUM_ARGS, NOT_FOUND, find_chromium  # noqa: E402 - after bench/ is on the path

STYLE = """
body { font: 13px -apple-system, "Segoe UI", Roboto, sans-serif; margin: 16px 24px; width: 1100px; color: #1f2328; }
.cell { margin: 0 0 14px 0; }
.input { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 4px; padding: 6px 10px;
         font: 12px ui-monospace, Menlo, monospace; white-space: pre; }
.prompt { color: #57606a; font: 12px ui-monospace, monospace; margin: 4px 0; }
.output { padding: 4px 10px; }
.output pre { margin: 0; font: 12px ui-monospace, monospace; }
table.cairn-table, .output table { border-collapse: collapse; margin: 4px 0; }
.output th, .output td { padding: 3px 10px; border-bottom: 1px solid #eaeef2; font-size: 12px; }
.output thead th { border-bottom: 1px solid #8c959f; }
.output caption { color: #57606a; padding: 2px 0; }
a { color: #0969da; }
"""


def main() -> None:
    chromium = find_chromium()
    if chromium is None:
        sys.exit(NOT_FOUND)
    with tempfile.TemporaryDirectory() as folder:
        os.environ.update(CAIRN_HOME=str(Path(folder) / "home"), CAIRN_CAPTURE="0")
        os.environ.pop("CAIRN_URI", None)
        notebook = nbformat.read(NOTEBOOK, as_version=4)
        nbclient.NotebookClient(notebook, timeout=300, resources={"metadata": {"path": folder}}).execute()
        page = Path(folder) / "notebook.html"
        page.write_text(_page(notebook), encoding="utf-8")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            tab = browser.new_page(viewport={"width": 1160, "height": 900}, device_scale_factor=1)
            tab.goto(page.as_uri())
            OUT.parent.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(OUT), full_page=True)
            browser.close()
    print(f"wrote {OUT.relative_to(ROOT)}")


def _page(notebook: nbformat.NotebookNode) -> str:
    parts = [f"<!doctype html><meta charset='utf-8'><style>{STYLE}</style>"]
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        parts.append(f"<div class='cell'><div class='prompt'>In [{cell.execution_count}]:</div>")
        parts.append(f"<div class='input'>{html.escape(cell.source)}</div>")
        for output in cell.outputs:
            parts.append(f"<div class='output'>{_output(output)}</div>")
        parts.append("</div>")
    return "".join(parts)


def _output(output: nbformat.NotebookNode) -> str:
    if output.output_type == "stream":
        if output.name == "stderr":
            return ""  # warnings of the example's libraries: not what the page is about
        return f"<pre>{html.escape(output.text)}</pre>"
    data = output.get("data", {})
    if "text/html" in data:
        return str(data["text/html"])  # as Jupyter inserts it
    if "text/plain" in data:
        return f"<pre>{html.escape(data['text/plain'])}</pre>"
    return ""


if __name__ == "__main__":
    main()
