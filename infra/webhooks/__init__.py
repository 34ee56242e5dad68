"""Webhook deliveries: Standard Webhooks signatures and the HTTP POST to receivers."""
