"""Conversations of every channel: use cases (issue 11)."""
