"""Tokens of the run query language, each with the column it starts at.

A field path is one token: ``params.optimizer.name``, ``metrics."val loss".min`` or
``tags.team`` — after a dot, a segment runs over letters, digits, ``_``, ``/`` and ``-`` (so
``metrics.train/loss`` and ``params.layer.0`` need no quotes), or is quoted with ``"`` or ``'``.

A NUL character is refused anywhere in a query, with its column: no stored name or value can
hold one (PostgreSQL cannot store it in text, so every store refuses it on write), and
PostgreSQL would fail on it as a bound parameter instead of matching nothing.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from cairn.core.errors import InvalidQuery


class Kind(enum.Enum):
    FIELD = "field"
    NUMBER = "number"
    DURATION = "duration"
    STRING = "string"
    KEYWORD = "keyword"
    OP = "operator"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    MINUS = "-"
    END = "end of query"


KEYWORDS = frozenset({"and", "or", "not", "in", "like", "ilike", "is", "null", "true", "false"})
DURATION_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    quoted: bool


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str  # as written (keywords lowered)
    position: int
    segments: tuple[Segment, ...] = ()


_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_UNIT = re.compile(r"(ms|s|m|h|d|w)(?![A-Za-z0-9_])")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SEGMENT = re.compile(r"[A-Za-z0-9_/\-]+")
_OPERATORS = ("<=", ">=", "!=", "<>", "==", "=", "<", ">")
_PUNCTUATION = {"(": Kind.LPAREN, ")": Kind.RPAREN, ",": Kind.COMMA, "-": Kind.MINUS}


def tokenize(text: str) -> list[Token]:
    if (nul := text.find("\x00")) != -1:
        raise InvalidQuery.at("a query cannot contain a NUL character (\\x00)", text, nul)
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
            continue
        start = i
        if char in "'\"":
            value, i = _quoted(text, i)
            tokens.append(Token(Kind.STRING, value, start))
        elif match := _NUMBER.match(text, i):
            i = match.end()
            if unit := _UNIT.match(text, i):
                i = unit.end()
                tokens.append(Token(Kind.DURATION, text[start:i], start))
            else:
                if i < len(text) and (text[i].isalpha() or text[i] == "_"):
                    raise InvalidQuery.at(f"unexpected {text[start : i + 1]!r}", text, start)
                tokens.append(Token(Kind.NUMBER, text[start:i], start))
        elif match := _IDENT.match(text, i):
            i = match.end()
            word = match.group()
            if word.lower() in KEYWORDS and not text.startswith(".", i):
                tokens.append(Token(Kind.KEYWORD, word.lower(), start))
                continue
            segments = [Segment(word, quoted=False)]
            while text.startswith(".", i):
                i += 1
                if i < len(text) and text[i] in "'\"":
                    value, i = _quoted(text, i)
                    segments.append(Segment(value, quoted=True))
                elif segment := _SEGMENT.match(text, i):
                    segments.append(Segment(segment.group(), quoted=False))
                    i = segment.end()
                else:
                    raise InvalidQuery.at("expected a name after '.'", text, i)
            tokens.append(Token(Kind.FIELD, text[start:i], start, tuple(segments)))
        elif operator := next((op for op in _OPERATORS if text.startswith(op, i)), None):
            i += len(operator)
            tokens.append(Token(Kind.OP, operator, start))
        elif char in _PUNCTUATION:
            i += 1
            tokens.append(Token(_PUNCTUATION[char], char, start))
        else:
            raise InvalidQuery.at(f"unexpected character {char!r}", text, start)
    tokens.append(Token(Kind.END, "", len(text)))
    return tokens


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The text between quotes at ``start`` (a doubled quote stands for one) and where it ends."""
    quote = text[start]
    parts = []
    i = start + 1
    while True:
        end = text.find(quote, i)
        if end == -1:
            raise InvalidQuery.at(f"unterminated text: no closing {quote}", text, start)
        parts.append(text[i:end])
        if text.startswith(quote, end + 1):
            parts.append(quote)
            i = end + 2
            continue
        return "".join(parts), end + 1
