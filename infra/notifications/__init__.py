"""Channels that deliver participant notifications: Web Push and e-mail over SMTP."""
