"""Reminder channels from configuration: `hearth vapid-keys` gives a pair the Web Push
channel signs with (the push service sees the public key), SMTP settings reach a server."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr, ValidationError

from api.app import reminder_channels
from api.cli.main import main
from api.settings import Settings
from domain.notifications import DIARY_DUE
from tests.notification_receivers import push_service, smtp_server


def _printed(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    assert main(["vapid-keys"]) == 0
    lines = capsys.readouterr().out.splitlines()
    return dict(line.split("=", 1) for line in lines)


async def test_generated_vapid_keys_sign_what_the_channel_pushes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = _printed(capsys)
    assert set(keys) == {"HEARTH_VAPID_PRIVATE_KEY", "HEARTH_VAPID_PUBLIC_KEY"}
    assert keys != _printed(capsys)  # a new pair each time
    settings = Settings(
        vapid_private_key=SecretStr(keys["HEARTH_VAPID_PRIVATE_KEY"]),
        vapid_public_key=keys["HEARTH_VAPID_PUBLIC_KEY"],
        vapid_subject="mailto:trials@example.org",
    )
    channels = reminder_channels(settings)
    assert set(channels) == {"webpush"}
    async with push_service() as service:
        device = service.device()
        keys_ = {"p256dh": device.p256dh, "auth": device.auth_b64}
        address = json.dumps({"endpoint": device.endpoint, "keys": keys_})
        await channels["webpush"].send(address, DIARY_DUE.render("en", "n-9"))
        [(_, headers, _)] = service.received
        assert f"k={keys['HEARTH_VAPID_PUBLIC_KEY']}" in headers["Authorization"]
        assert service.opened(device) == [
            {"id": "n-9", "title": "Hearth", "body": "Your diary is ready."}
        ]


async def test_smtp_settings_give_an_email_channel() -> None:
    with smtp_server() as inbox:
        settings = Settings(smtp_host="127.0.0.1", smtp_port=inbox.port, smtp_starttls=False)
        channels = reminder_channels(settings)
        assert set(channels) == {"email"}
        await channels["email"].send("pat@example.net", DIARY_DUE.render("es", "n-10"))
    [mail] = inbox.mails()
    assert mail["From"] == "trials@example.org"
    assert mail.get_payload(decode=True).decode().strip() == "Su diario está listo."  # type: ignore[union-attr]


def test_nothing_configured_means_no_channel_and_a_bad_subject_is_refused() -> None:
    assert reminder_channels(Settings()) == {}
    with pytest.raises(ValidationError):
        Settings(vapid_subject="trials@example.org")
