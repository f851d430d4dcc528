"""The email channel's parts (issue 13): connecting to mail servers (``connect``), mailbox settings,
receiving (IMAP worker, parsing, threading, routing) and sending (outbox over SMTP, Sent folder).
``centrala/channels/email.py`` is what the conversation core sees of them."""
