"""Weak staff passwords are refused through GraphQL and the CLI alike."""

from __future__ import annotations

import getpass
import io
import uuid
from pathlib import Path

import pytest

from api.cli.main import main
from api.settings import Settings
from domain.actors import Grant, Role
from tests.conftest import Scratch
from tests.e2e.conftest import PASSWORD, Gql, create_user, login

CREATE = 'mutation($e: String!, $p: String!) { createStaffUser(input: {email: $e, name: "Greta Lund", password: $p, grants: []}) { __typename ... on MutationError { code field message } } }'
CHANGE = "mutation($c: String!, $n: String!) { changePassword(input: {currentPassword: $c, newPassword: $n}) { __typename ... on MutationError { code field } } }"


@pytest.mark.parametrize("password", ["password1234", "123456789012", "greta.lund.2026"])
async def test_create_staff_user_refuses_weak_passwords(
    gql: Gql, admin_token: str, password: str
) -> None:
    email = f"greta.lund.{uuid.uuid4().hex[:6]}@example.org"
    body = await gql(CREATE, {"e": email, "p": password}, admin_token)
    refused = body["data"]["createStaffUser"]
    assert (refused["code"], refused["field"]) == ("WEAK_PASSWORD", "password")
    assert password not in refused["message"]
    again = await gql(CREATE, {"e": email, "p": PASSWORD}, admin_token)
    assert again["data"]["createStaffUser"]["__typename"] == "StaffUserSuccess"  # nothing kept


async def test_change_password_refuses_weak_passwords(gql: Gql, settings: Settings) -> None:
    email = await create_user(settings, (Grant(Role.ADMIN),))
    token = await login(gql, email)
    body = await gql(CHANGE, {"c": PASSWORD, "n": "password1234"}, token)
    assert body["data"]["changePassword"] == {
        "__typename": "MutationError",
        "code": "WEAK_PASSWORD",
        "field": "password",
    }
    assert await login(gql, email)  # the old password still works: nothing changed


@pytest.fixture
def env(scratch: Scratch, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Scratch:
    monkeypatch.setenv("DATABASE_URL", scratch.owner_url)
    monkeypatch.setenv("HEARTH_KEY_FILE", str(scratch.settings.key_path))
    monkeypatch.setenv("HEARTH_DATA_DIR", str(tmp_path / "data"))
    return scratch


def test_create_admin_refuses_a_common_password_from_stdin(
    env: Scratch, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("password1234\n"))
    command = ["users", "create-admin", "--email", "ops@example.org", "--name", "Ops"]
    assert main([*command, "--password-stdin"]) == 2
    assert "too easy to guess" in capsys.readouterr().err


def test_create_admin_asks_again_for_a_typed_weak_password(
    env: Scratch, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typed = iter(
        ["123456789012", "123456789012", "quiet orbit tulip sage", "quiet orbit tulip sage"]
    )
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(typed))
    command = ["users", "create-admin", "--email", "ops2@example.org", "--name", "Ops"]
    assert main(command) == 0
    captured = capsys.readouterr()
    assert "Try another." in captured.err
    assert "Created Ops <ops2@example.org>" in captured.out
