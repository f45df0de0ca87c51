"""``cairn users``, ``tokens``, ``teams``, ``members`` and ``whoami`` on an embedded store, where
whoever runs the command operates the database and may do everything (docs/access.md)."""

from __future__ import annotations

import json

from cairn.core.access import TOKEN_PREFIX
from cairn.service.interface import Tracking

from .helpers import Invoke

PASSWORD = "correct horse battery staple 42"


def test_users_are_created_listed_shown_disabled_and_made_admin(invoke: Invoke, store_uri: str) -> None:
    created = invoke("users", "create", "ann", "--email", "ann@example.com", "--uri", store_uri, input=PASSWORD + "\n")
    assert created.stdout == "Created user ann\n"
    invoke("users", "create", "ci", "--service", "--uri", store_uri)
    table = invoke("users", "list", "--uri", store_uri).stdout
    assert "ann" in table and "ann@example.com" in table and "service" in table
    assert json.loads(invoke("users", "show", "ann", "--uri", store_uri, "--json").stdout)["email"] == "ann@example.com"
    invoke("users", "disable", "ann", "--uri", store_uri)
    assert json.loads(invoke("users", "show", "ann", "--uri", store_uri, "--json").stdout)["disabled"] is True
    invoke("users", "enable", "ann", "--uri", store_uri)
    assert "now an admin" in invoke("users", "make-admin", "ann", "--uri", store_uri).stdout
    assert json.loads(invoke("users", "show", "ann", "--uri", store_uri, "--json").stdout)["is_admin"] is True
    last = invoke("users", "make-admin", "ann", "--revoke", "--uri", store_uri, code=1)
    assert last.stderr == "Error: 'ann' is the last admin: make another admin first [permission_denied]\n"
    invoke("users", "make-admin", "ci", "--uri", store_uri)
    assert "no longer" in invoke("users", "make-admin", "ann", "--revoke", "--uri", store_uri).stdout


def test_a_generated_password_is_printed_once_and_bad_ones_are_refused(invoke: Invoke, store_uri: str) -> None:
    made = invoke("users", "create", "bob", "--generate-password", "--uri", store_uri).stdout
    assert "password: " in made and "shown once" in made
    reset = invoke("users", "reset-password", "bob", "--generate-password", "--uri", store_uri).stdout
    assert reset.split("password: ")[1].split()[0] != made.split("password: ")[1].split()[0]
    refused = invoke("users", "create", "eve", "--uri", store_uri, input="short\n", code=1)
    assert refused.stderr == "Error: a password needs at least 12 characters [invalid_value]\n"
    taken = invoke("users", "create", "bob", "--service", "--uri", store_uri, code=1)
    assert taken.stderr.rstrip().endswith("[already_exists]")


def test_tokens_are_printed_once_listed_without_secret_and_revoked(invoke: Invoke, store_uri: str) -> None:
    invoke("users", "create", "ci", "--service", "--uri", store_uri)
    made = json.loads(
        invoke("tokens", "create", "deploy", "--user", "ci", "--expires-in", "30d", "--uri", store_uri, "--json").stdout
    )
    secret, token_id = made["secret"], made["token"]["id"]
    assert secret.startswith(TOKEN_PREFIX) and made["token"]["expires_at"] is not None
    table = invoke("tokens", "list", "--user", "ci", "--uri", store_uri).stdout
    assert "deploy" in table and token_id in table and secret not in table
    assert secret not in invoke("tokens", "list", "--all", "--uri", store_uri, "--json").stdout
    assert f"Revoked token {token_id}" in invoke("tokens", "revoke", token_id, "--uri", store_uri).stdout
    assert "revoked" in invoke("tokens", "list", "--all", "--uri", store_uri).stdout
    bad = invoke("tokens", "create", "t", "--user", "ci", "--expires-in", "soon", "--uri", store_uri, code=2)
    assert "not a duration" in bad.stderr
    gone = invoke("tokens", "revoke", "nope", "--uri", store_uri, code=1)
    assert gone.stderr.rstrip().endswith("[token_not_found]")


def test_teams_and_members(invoke: Invoke, store_uri: str, embedded: Tracking) -> None:
    embedded.create_project("mnist")
    for name in ("ann", "bob"):
        invoke("users", "create", name, "--service", "--uri", store_uri)
    invoke("teams", "create", "vision", "--description", "image models", "--uri", store_uri)
    assert invoke("teams", "add", "vision", "ann", "bob", "--uri", store_uri).stdout == "vision: ann, bob\n"
    assert invoke("teams", "remove", "vision", "bob", "--uri", store_uri).stdout == "vision: ann\n"
    assert "image models" in invoke("teams", "list", "--uri", store_uri).stdout

    invoke("members", "grant", "bob", "editor", "--project", "mnist", "--uri", store_uri)
    invoke("members", "grant", "vision", "maintainer", "--team", "--project", "mnist", "--uri", store_uri)
    listed = json.loads(invoke("members", "list", "--project", "mnist", "--uri", store_uri, "--json").stdout)
    assert {(g["subject_kind"], g["subject"], g["role"]) for g in listed} == {
        ("user", "bob", "editor"),
        ("team", "vision", "maintainer"),
    }
    invoke("members", "revoke", "vision", "--team", "--project", "mnist", "--uri", store_uri)
    assert "vision" not in invoke("members", "list", "--project", "mnist", "--uri", store_uri).stdout
    assert "--project NAME or --model NAME" in invoke("members", "list", "--uri", store_uri, code=2).stderr
    missing = invoke("members", "list", "--model", "nope", "--uri", store_uri, code=1)
    assert missing.stderr.rstrip().endswith("[model_not_found]")
    invoke("teams", "delete", "vision", "--uri", store_uri)
    assert "No teams yet" in invoke("teams", "list", "--uri", store_uri).stdout


def test_whoami_in_embedded_mode(invoke: Invoke, store_uri: str) -> None:
    said = invoke("whoami", "--uri", store_uri, env={"CAIRN_USER": "ada"}).stdout
    assert said == "ada (admin; no sign-in)\n"
