"""Console capture: the user still sees everything, the file keeps it, nothing breaks a print."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from tqdm import tqdm  # type: ignore[import-untyped]

from cairn.client.capture.console import ConsoleCapture, collapse_carriage_returns, finished_log


class FakeConsole(io.StringIO):
    """An original stream with a terminal's attributes, and one attribute of its own."""

    colour_depth = 256

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return 42

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "strict"


def fake_consoles(monkeypatch: pytest.MonkeyPatch) -> tuple[FakeConsole, FakeConsole]:
    """Replace sys.stdout and sys.stderr, from within the test (pytest's own capture would undo
    a fixture's replacement when the test starts)."""
    out, err = FakeConsole(), FakeConsole()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    return out, err


def test_output_reaches_the_console_and_the_file_in_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "run" / "output.log"
    capture = ConsoleCapture(path)
    capture.start()
    try:
        print("one")
        sys.stderr.write("two\n")
        print("three", flush=True)
        print("four", file=sys.stderr)
        sys.stdout.writelines(["fi", "ve\n"])
    finally:
        capture.stop()
    print("after")

    seen = capsys.readouterr()
    assert seen.out == "one\nthree\nfive\nafter\n"
    assert seen.err == "two\nfour\n"
    assert path.read_bytes().decode() == "one\ntwo\nthree\nfour\nfive\n"


def test_stop_restores_the_streams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = fake_consoles(monkeypatch)
    with ConsoleCapture(tmp_path / "output.log") as capture:
        assert sys.stdout is not out and sys.stderr is not err
        assert capture.active
    assert sys.stdout is out and sys.stderr is err
    assert not capture.active


def test_a_wrapper_installed_meanwhile_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = fake_consoles(monkeypatch)
    path = tmp_path / "output.log"
    capture = ConsoleCapture(path)
    capture.start()
    ours = sys.stdout
    theirs = io.StringIO()
    sys.stdout = theirs
    capture.stop()

    assert sys.stdout is theirs
    assert sys.stderr is err
    ours.write("still shown, not kept\n")  # e.g. by a logging handler that saved our tee
    assert out.getvalue() == "still shown, not kept\n"
    assert path.read_bytes().decode() == ""


def test_the_tee_looks_like_the_original(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_consoles(monkeypatch)
    with ConsoleCapture(tmp_path / "output.log"):
        assert sys.stdout.isatty()
        assert sys.stdout.fileno() == 42
        assert sys.stdout.encoding == "utf-8"
        assert sys.stderr.errors == "strict"
        tee: Any = sys.stdout
        assert tee.colour_depth == 256
        with pytest.raises(AttributeError):
            tee.no_such_attribute  # noqa: B018


def test_a_progress_bar_collapses_to_its_last_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    consoles = fake_consoles(monkeypatch)
    path = tmp_path / "output.log"
    with ConsoleCapture(path):
        print("epoch 1")
        for _ in tqdm(range(5), file=sys.stderr, ascii=True, mininterval=0, bar_format="{n}/{total}"):
            pass
        print("done")

    raw = path.read_bytes().decode("utf-8")  # read_text would turn each \r into \n
    assert "\r" in raw and consoles[1].getvalue() in raw
    assert finished_log(path) == b"epoch 1\n5/5\ndone\n"
    assert finished_log(path).decode() == collapse_carriage_returns(raw)


@pytest.mark.parametrize(
    ("text", "collapsed"),
    [
        ("\r 10%\r 50%\r100%\n", "100%\n"),
        ("a\r\nb\r\n", "a\nb\n"),
        ("loss 0.3\r", "loss 0.3"),  # a trailing \r moves the cursor but erases nothing
        ("x\r\r\n", "x\n"),
        ("first\n\r1/3\r2/3\r3/3\nlast", "first\n3/3\nlast"),
        ("\x1b[32mgreen\x1b[0m\r\x1b[31mred\x1b[0m\n", "\x1b[31mred\x1b[0m\n"),
        ("", ""),
        ("\n\n", "\n\n"),
    ],
)
def test_collapse_carriage_returns(text: str, collapsed: str) -> None:
    assert collapse_carriage_returns(text) == collapsed


def test_finished_log_matches_collapse_and_replaces_bad_utf8(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    path.write_bytes(b"caf\xc3\xa9 \r\xff\n\ra\rb")
    assert finished_log(path) == "\ufffd\nb".encode()


def test_the_file_is_cut_at_max_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = fake_consoles(monkeypatch)
    path = tmp_path / "output.log"
    with ConsoleCapture(path, max_bytes=20):
        print("0123456789")
        print("abcdefghij")
        print("later")

    assert out.getvalue() == "0123456789\nabcdefghij\nlater\n"
    assert path.read_bytes().decode() == (
        "0123456789\nabcdefghi\n[cairn: console log cut at 20 bytes; later output was not kept]\n"
    )


def test_the_cut_keeps_whole_characters_and_counts_what_was_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_consoles(monkeypatch)
    path = tmp_path / "output.log"
    path.write_bytes(b"old\n")
    with ConsoleCapture(path, max_bytes=7):
        sys.stdout.write("\u00e9\u00e9")  # 4 bytes: only one character fits in the 3 left

    assert path.read_bytes().decode() == "old\n\u00e9\n[cairn: console log cut at 7 bytes; later output was not kept]\n"


def test_a_full_disk_does_not_break_print(capsys: pytest.CaptureFixture[str]) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    capture = ConsoleCapture(Path("/dev/full"))
    capture.start()
    try:
        print("one")
        print("two", file=sys.stderr)
        print("three")
        assert not capture.active
    finally:
        capture.stop()

    seen = capsys.readouterr()
    assert seen.out == "one\nthree\n"
    assert seen.err.count("cairn: warning: ") == 1
    assert "console capture stopped: cannot write /dev/full" in seen.err
    assert seen.err.endswith("two\n")


def test_a_file_that_cannot_be_opened_leaves_the_streams_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sys.stdout
    capture = ConsoleCapture(tmp_path)  # a folder, not a file
    capture.start()
    assert sys.stdout is before
    assert not capture.active
    capture.stop()
    assert "cairn: warning: console output is not captured: cannot open" in capsys.readouterr().err


def test_start_twice_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_consoles(monkeypatch)
    with ConsoleCapture(tmp_path / "output.log") as capture, pytest.raises(RuntimeError, match="already started"):
        capture.start()
