"""URL converters shared by every blueprint.

``<int:…>`` is replaced app-wide by :class:`DatabaseId`: an id the databases cannot hold is an
ordinary 404 instead of an overflow deep in the driver.  Every id column is ``Integer``:
PostgreSQL's ``integer`` ends at 2**31 - 1 (SQLite's at 2**63 - 1), so that is the largest id.
It answers 404 itself rather than "not matching": a non-match on a path several rules share
would be reported as 405 (method not allowed).
"""
from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

MAX_ID = 2 ** 31 - 1   # PostgreSQL's integer, the type of every id column


class DatabaseId(IntegerConverter):
    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if number > MAX_ID:
            raise NotFound()
        return number


def install(app) -> None:
    """Before any blueprint is registered: rules bind their converter when they are added."""
    app.url_map.converters["int"] = DatabaseId
