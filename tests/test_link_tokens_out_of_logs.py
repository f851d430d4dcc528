"""Issue 12, defect 10: password-reset and invitation tokens never reach an access log."""
from __future__ import annotations

import logging
import re

import pytest
import requests

from tests.conftest import mail_link

pytestmark = pytest.mark.db


def test_reset_token_is_in_the_fragment_and_posted_in_the_body(live_server, make_user, smtp_server, caplog):
    make_user("anna@example.com")
    url = live_server.url
    http = requests.Session()
    caplog.set_level(logging.INFO, logger="werkzeug")   # the server's access log
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', http.get(url + "/password/forgot").text).group(1)
    http.post(url + "/password/forgot", data={"email": "anna@example.com", "csrf_token": csrf})
    link = mail_link(smtp_server.wait_for("anna@example.com", subject_contains="Reset"))
    page, token = link.split("#", 1)
    assert page == url + "/password/set" and len(token) >= 40
    opened = http.get(link)                  # a browser never sends the fragment
    assert opened.status_code == 200 and token not in opened.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', opened.text).group(1)
    form = http.post(url + "/password/set", data={"token": token, "csrf_token": csrf})
    assert form.status_code == 200 and "Set a new password" in form.text
    done = http.post(url + "/password/set", data={"token": token, "csrf_token": csrf, "password": "a new long password",
                                                  "confirm": "a new long password"}, allow_redirects=False)
    assert done.status_code == 302
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "werkzeug")
    assert "/password/set" in logged and token not in logged


def test_old_links_lead_to_the_fragment_page(app):
    r = app.test_client().get("/password/reset/abc-123")
    assert r.status_code == 302 and r.headers["Location"].endswith("/password/set#abc-123")
