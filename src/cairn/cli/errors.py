"""How a failed command reports: ``Error: MESSAGE [code]``, one line on stderr, exit status 1.

The code in brackets is the error's stable code (docs/errors.md), the same one the REST API's
envelope carries, so a script can tell ``model_version_not_found`` from ``unavailable`` without
parsing the message. Failures that are not Cairn errors (a file the OS refused, a command a
reproduction ran that failed) have no code and print as ``Error: MESSAGE``.
"""

from __future__ import annotations

import click

from cairn.core.errors import CairnError, InvalidQuery


class CommandError(click.ClickException):
    """A Cairn error as the command line prints it (click adds the ``Error: `` prefix)."""

    @classmethod
    def of(cls, error: CairnError, message: str | None = None) -> CommandError:
        """``error`` in one line, its message replaced by ``message`` (a hint added) if given."""
        return cls(f"{one_line(message or error.message)} [{error.code}]")

    @classmethod
    def pointed(cls, error: InvalidQuery) -> CommandError:
        """The error line, then the query with a caret under the column it names."""
        query, position = error.details.get("query"), error.details.get("position")
        if not isinstance(query, str) or not isinstance(position, int) or "\n" in query:
            return cls.of(error)
        return cls(f"{one_line(error.message)} [{error.code}]\n  {query}\n  {' ' * position}^")


def one_line(message: str) -> str:
    # A driver's message may span lines ("…refused\n\tIs the server running…?").
    return " ".join(line.strip() for line in message.splitlines() if line.strip())
