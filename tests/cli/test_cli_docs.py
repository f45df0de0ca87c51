"""docs/cli.md documents every command and every option that ``--help`` shows, and no other.

A section is a ``## `cairn …``` or ``### `cairn …``` heading and the text up to the next heading.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from cairn.cli.main import cli

from .helpers import Invoke

DOCS = Path(__file__).parents[2] / "docs" / "cli.md"
HEADING = re.compile(r"^#{2,3} (.*)$", re.MULTILINE)


def all_commands(group: click.Group = cli, path: str = "cairn") -> Iterator[tuple[str, click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the root group loads its commands lazily
        command = group.get_command(ctx, name)
        assert command is not None
        full = f"{path} {name}"
        yield full, command
        if isinstance(command, click.Group):
            yield from all_commands(command, full)


COMMANDS = dict(all_commands())


def sections() -> dict[str, str]:
    """Section text by heading; the part before the first command heading is under ""."""
    text = DOCS.read_text()
    found: dict[str, str] = {}
    matches = list(HEADING.finditer(text))
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following else len(text)
        title = match.group(1).strip()
        command = re.fullmatch(r"`(cairn[^`]*)`", title)
        key = command.group(1) if command else ""
        found[key] = found.get(key, "") + text[match.end() : end]
    found[""] = text[: matches[0].start()] + found.get("", "")
    return found


def mentions(section: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", section) is not None


def context_for(name: str) -> click.Context:
    """The context ``cairn NAME --help`` renders in (help option names come from the root)."""
    ctx = click.Context(cli, info_name="cairn", **cli.context_settings)
    group: click.Command = cli
    for part in name.split()[1:]:
        assert isinstance(group, click.Group)
        found = group.get_command(ctx, part)
        assert found is not None
        group = found
        ctx = click.Context(group, parent=ctx, info_name=part)
    return ctx


def shown_by_help(name: str) -> tuple[list[str], list[str]]:
    """The option spellings and argument names ``--help`` shows, --help itself aside."""
    ctx = context_for(name)
    options, arguments = [], []
    for param in ctx.command.get_params(ctx):
        if isinstance(param, click.Option):
            if param.hidden or set(param.opts) <= set(ctx.help_option_names):
                continue
            options.extend(param.opts + param.secondary_opts)
        elif isinstance(param, click.Argument):
            arguments.append(param.make_metavar(ctx).strip("[]."))
    return options, arguments


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_and_option_is_documented(name: str) -> None:
    documented = sections()
    assert name in documented, f"docs/cli.md has no section for `{name}`"
    options, arguments = shown_by_help(name)
    for word in options + arguments:
        assert mentions(documented[name], word), f"`{name}` shows {word} in --help; docs/cli.md does not"


def test_global_options_are_documented() -> None:
    intro = sections()[""]
    for word in ("--version", "-h", "--help", "CAIRN_URI", "CAIRN_HOME", "--uri"):
        assert mentions(intro, word), word


def test_only_real_commands_are_documented() -> None:
    unknown = set(sections()) - {""} - set(COMMANDS)
    assert not unknown, f"docs/cli.md documents commands that do not exist: {sorted(unknown)}"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_and_option_has_help(name: str) -> None:
    command = COMMANDS[name]
    assert command.help and command.help.strip(), f"`{name}` has no help text"
    ctx = context_for(name)
    for param in command.get_params(ctx):
        if isinstance(param, click.Option):
            assert param.help, f"`{name}` {param.opts[0]} has no help text"


def test_cairn_help_lists_every_command(invoke: Invoke) -> None:
    listed = invoke("--help").stdout.split("Commands:", 1)[1]
    names = {line.split()[0] for line in listed.splitlines() if line.strip()}
    expected = {
        "projects",
        "runs",
        "artifacts",
        "datasets",
        "gc",
        "models",
        "events",
        "reproduce",
        "reviews",
        "run",
        "sync",
        "db",
        "diff",
        "server",
        "ui",
        "webhooks",
        "login",
        "logout",
        "whoami",
        "users",
        "tokens",
        "teams",
        "members",
        "predict",
        "serve",
        "import",
        "monitor",
        "monitors",
    }
    assert names == set(cli.list_commands(click.Context(cli))) == expected
    for name in COMMANDS:
        assert invoke(*name.split()[1:], "--help").stdout.startswith(f"Usage: {name}")
