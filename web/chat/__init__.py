"""Website chat (issue #6): embed, widget, live chat, offline form, settings."""
