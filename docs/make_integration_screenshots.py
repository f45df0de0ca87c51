"""Photograph the run each framework's example makes (``make screenshots-integrations``).

Runs every ``examples/integrations/*_train.py`` exactly as its docs page shows it, against a
throwaway ``cairn server`` on loopback, then photographs that run's page in Debian's Chromium
into ``docs/screenshots/integration-NAME.png`` (NAME: the script's name without ``_train``),
which docs/integrations/NAME.md shows. ``--only NAME`` does one.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_screenshots import (
    CHROMIUM_ARGS,
    NOT_FOUND,
    OUT,
    ROOT,
    find_chromium,
    throwaway_server,
)

import cairn

EXAMPLES = ROOT / "examples" / "integrations"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help="one example, by NAME")
    options = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        sys.exit(NOT_FOUND)
    scripts = sorted(EXAMPLES.glob("*_train.py"))
    if options.only:
        scripts = [script for script in scripts if _name(script) == options.only]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        extra = {"HF_HUB_OFFLINE": "1", "KERAS_BACKEND": "torch", "MPLBACKEND": "Agg"}
        with throwaway_server(work, extra) as (url, env):
            for script in scripts:
                run_id = _run_example(script, {**env, "CAIRN_URI": url}, work)
                _photograph(url, run_id, _name(script), chromium)


def _name(script: Path) -> str:
    return script.stem.removesuffix("_train")


def _run_example(script: Path, env: dict[str, str], work: Path) -> str:
    """Run ``script`` as a user would, and return the run it logged first: the oldest top-level
    run of any project started since (an example may name its project in its ``autolog(project=...)`` line; one
    that does not goes to CAIRN_PROJECT, set here to ``NAME-example``)."""
    env = {**env, "CAIRN_PROJECT": f"{_name(script)}-example"}
    print(f"running {script.relative_to(ROOT)}", flush=True)
    started_ms = time.time_ns() // 1_000_000
    subprocess.run([sys.executable, "-W", "ignore", str(script)], env=env, check=True, cwd=work)
    with cairn.Api(env["CAIRN_URI"]) as api:
        runs = [
            run
            for project in api.projects()
            for run in api.runs(project.name)
            if run.parent_id is None and run.start_time >= started_ms
        ]
    if not runs:
        raise SystemExit(f"{script.name} logged no run")
    return min(runs, key=lambda run: run.start_time).id


#: How much of the run's page a screenshot shows: the summary, the curves, the params and
#: metric summaries and the datasets, without the comments below them.
SHOT_HEIGHT = 1700


def _photograph(url: str, run_id: str, name: str, chromium: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": SHOT_HEIGHT}, device_scale_factor=1)
        page.goto(f"{url}/runs/{run_id}")
        page.wait_for_selector(".metric-chart[data-state=drawn]")
        page.wait_for_timeout(400)  # let the charts finish their first frame
        height = min(SHOT_HEIGHT, int(page.evaluate("document.documentElement.scrollHeight")))
        clip = {"x": 0, "y": 0, "width": 1366, "height": height}
        page.screenshot(path=str(OUT / f"integration-{name}.png"), full_page=True, clip=clip)
        print(f"wrote docs/screenshots/integration-{name}.png")
        browser.close()


if __name__ == "__main__":
    main()
