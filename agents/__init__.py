"""The contact-center domain: plain Python, free of Flask and of Asterisk."""
