"""A stand-in for the person at a web browser in ``cairn login --browser`` tests, run by
:mod:`webbrowser` as ``$BROWSER`` with the dashboard address: it returns at once, as a real
browser launcher does, and in a child process with the session cookie in
``$FAKE_BROWSER_SESSION`` opens the page, confirms the form, first knocks at the CLI's listener
with a wrong state (which the CLI must refuse and survive), then follows the real link. What
each step answered goes, as JSON lines, to ``$FAKE_BROWSER_LOG``."""

from __future__ import annotations

import html
import json
import os
import re
import sys
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from cairn.server.deps import SESSION_COOKIE


def _browse(page: str, log: list[dict[str, object]]) -> None:
    site = urlsplit(page)
    origin = f"{site.scheme}://{site.netloc}"
    with httpx.Client(timeout=30) as client:
        client.cookies.set(SESSION_COOKIE, os.environ["FAKE_BROWSER_SESSION"], domain=site.hostname or "")
        shown = client.get(page)
        log.append({"step": "page", "status": shown.status_code})
        form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', shown.text))
        done = client.post(
            f"{origin}/account/cli-login", data=form, headers={"origin": origin, "sec-fetch-site": "same-origin"}
        )
        log.append({"step": "confirm", "status": done.status_code})
        link = html.unescape(re.findall(r'href="([^"]+)" id="cli-login-callback"', done.text)[0])
        target = urlsplit(link)
        wrong = {k: v[0] for k, v in parse_qs(target.query).items()} | {"state": "w" * 43}
        knocked = client.get(f"http://{target.netloc}/callback?{urlencode(wrong)}")
        log.append({"step": "wrong-state", "status": knocked.status_code})
        followed = client.get(link)
        log.append({"step": "callback", "status": followed.status_code, "text": followed.text, "host": target.hostname})


def main() -> None:
    if os.fork():
        return  # the launcher returns; the "browser" goes on
    # Let go of the CLI's output, which its caller reads to the end.
    quiet = os.open(os.devnull, os.O_RDWR)
    for stream in (0, 1, 2):
        os.dup2(quiet, stream)
    log: list[dict[str, object]] = []
    try:
        _browse(sys.argv[1], log)
    except Exception as exc:  # the test reads what went wrong from the log
        log.append({"step": "failed", "error": repr(exc)})
    with open(os.environ["FAKE_BROWSER_LOG"], "w") as out:
        out.write("\n".join(json.dumps(entry) for entry in log))
    os._exit(0)


if __name__ == "__main__":
    main()
