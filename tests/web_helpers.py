"""HTTP helpers for panel tests: CSRF tokens from pages, logging in."""
from __future__ import annotations

import re

PASSWORD = "correct horse 1"


def csrf(client, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def login(client, email: str, password: str = PASSWORD, headers=None):
    token = csrf(client)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       headers=headers or {})


def open_link(client, link: str, **fields):
    """What the password link's page does: post the fragment's token (and ``fields``)."""
    path, token = link.split("://", 1)[1].split("/", 1)[1].split("#", 1)
    assert path == "password/set" and token
    return client.post("/password/set", data={"token": token, "csrf_token": csrf(client, "/password/set"), **fields})


def post(client, path: str, data: dict | None = None, page: str = "/"):
    data = dict(data or {})
    data["csrf_token"] = csrf(client, page)
    return client.post(path, data=data)
