"""URL converters shared by every blueprint.

``<int:…>`` is replaced app-wide by :class:`DatabaseId`: an id the databases cannot hold
(SQLite's and PostgreSQL's integers end at 2**63 - 1) is an ordinary 404 instead of an
``OverflowError`` deep in the driver.  It answers 404 itself rather than "not matching": a
non-match on a path several rules share would be reported as 405 (method not allowed).
"""
from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

MAX_ID = 2 ** 63 - 1


class DatabaseId(IntegerConverter):
    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if number > MAX_ID:
            raise NotFound()
        return number


def install(app) -> None:
    """Before any blueprint is registered: rules bind their converter when they are added."""
    app.url_map.converters["int"] = DatabaseId
