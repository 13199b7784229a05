"""Delivery: building messages and handing them to a backend (outbox, SMTP, SendGrid)."""
