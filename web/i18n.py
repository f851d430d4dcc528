"""PL/EN (ACC-7): the logged-in user's choice, else the session's, else the browser's."""
from __future__ import annotations

from flask import request, session
from flask_login import current_user

LANGUAGES = ("pl", "en")


def select_locale() -> str:
    if getattr(current_user, "is_authenticated", False) and current_user.language in LANGUAGES:
        return current_user.language
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    return request.accept_languages.best_match(LANGUAGES, default="en") if request else "en"
