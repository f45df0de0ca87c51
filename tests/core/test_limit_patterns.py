"""The patterns the OpenAPI document states are the checks the service applies.

Each pattern of ``cairn.core.limits`` and ``cairn.core.artifacts`` is held to its check on
text chosen to sit on the edges (control characters, white space, dots, slashes, drives).
JSON Schema's regular expressions are ECMA 262's, where ``$`` ends the input; Python's ``$``
also matches before a final newline, so the patterns are matched here as JSON Schema reads them.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from cairn.blobs.base import check_digest
from cairn.core import limits
from cairn.core.artifacts import ARTIFACT_PATH_PATTERN, check_artifact_path
from cairn.core.errors import InvalidInput
from cairn.core.fingerprint import check_fingerprint

EDGES = list("ab0fF.:/\\ C-\t\n\r\x00\x01\x1f\x7f\x85\xa0\u3000é")
texts = st.text(alphabet=st.sampled_from(EDGES) | st.characters(), max_size=12)


def matches(pattern: str, text: str) -> bool:
    ecma = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
    return re.search(ecma, text) is not None


def passes(check: object, *args: object) -> bool:
    try:
        check(*args)  # type: ignore[operator]
    except InvalidInput:
        return False
    return True


@given(texts)
def test_key_pattern_is_check_key(text: str) -> None:
    stated = matches(limits.KEY_PATTERN, text) and len(text) <= limits.MAX_KEY_LENGTH
    assert stated == passes(limits.check_key, text, "param")


@given(texts)
def test_name_pattern_is_check_name(text: str) -> None:
    stated = matches(limits.NAME_PATTERN, text) and len(text) <= limits.MAX_NAME_LENGTH
    assert stated == passes(limits.check_name, text, "name")


@given(texts)
def test_text_pattern_is_check_text(text: str) -> None:
    assert matches(limits.TEXT_PATTERN, text) == passes(limits.check_text, text, "text", limits.MAX_NOTES_LENGTH)


@given(st.text(alphabet=st.sampled_from("0123456789abcdefABx"), min_size=62, max_size=66) | texts)
def test_sha256_pattern_is_the_digest_and_fingerprint_checks(text: str) -> None:
    stated = matches(limits.SHA256_PATTERN, text)
    assert stated == passes(check_digest, text) == passes(check_fingerprint, text)


segments = st.sampled_from(["", ".", "..", "...", ".a", "a.", "C:", "c", "é", "a b", "\x00", "\\", "x\n"])
paths = st.lists(segments | texts, min_size=1, max_size=4).map("/".join) | texts


@given(paths)
def test_artifact_path_pattern_is_check_artifact_path(path: str) -> None:
    stated = matches(ARTIFACT_PATH_PATTERN, path) and len(path) <= limits.MAX_ARTIFACT_PATH_LENGTH
    assert stated == passes(check_artifact_path, path)


def test_white_space_is_spelled_out_as_python_strips_it() -> None:
    # ``\s`` is one set in Python and another in JSON Schema's regular expressions ("\x1e" is
    # white space to one and text to the other), so the patterns spell white space out.
    import sys

    from cairn.core.models import uri

    white = re.compile(f"[{limits.WHITESPACE}]")
    assert [c for c in range(sys.maxunicode + 1) if bool(white.fullmatch(chr(c))) != chr(c).isspace()] == []
    for pattern in (limits.NAME_PATTERN, limits.NOT_BLANK_TEXT_PATTERN, uri.MODEL_NAME_PATTERN):
        assert "\\s" not in pattern, pattern


@given(st.text(alphabet=st.sampled_from([*EDGES, "\x1e", "\x1c", "\ufeff", "\u2028"]), max_size=6))
def test_not_blank_text_pattern_is_check_comment_body(text: str) -> None:
    from cairn.core.discussion import check_comment_body

    assert matches(limits.NOT_BLANK_TEXT_PATTERN, text) == passes(check_comment_body, text)
