"""WSGI entry point for gunicorn (``web.wsgi:app``) in the scaled-out deployment."""
from . import create_app

app = create_app()
