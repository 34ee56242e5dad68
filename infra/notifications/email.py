"""E-mail over SMTP to the participant's (unsealed just for the send) address."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from domain.notifications import Message


@dataclass(frozen=True)
class SmtpSettings:
    """From configuration: HEARTH_SMTP_HOST, _PORT, _USERNAME, _PASSWORD, _STARTTLS, _FROM."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    timeout: float = 10.0


class EmailChannel:
    name = "email"

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    async def send(self, address: str, message: Message) -> None:
        mail = EmailMessage()
        mail["From"] = self._settings.sender
        mail["To"] = address
        mail["Subject"] = message.title
        mail["Content-Language"] = message.language
        # An opaque id only, so the app can match the e-mail to its receipt.
        mail["X-Hearth-Notification"] = message.notification_id
        mail.set_content(message.body)
        s = self._settings
        await aiosmtplib.send(
            mail,
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=s.password,
            start_tls=s.starttls,
            timeout=s.timeout,
        )
