"""Login, logout, CSRF, the failed-login limit, password reset links (ACC-1, ACC-2)."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from centrala.models import AuditEntry, AuthToken, User
from tests.conftest import mail_link

from .web_helpers import PASSWORD, csrf, login, open_link, post

pytestmark = pytest.mark.db


@pytest.fixture
def client(app):
    return app.test_client()


def test_login_logout_and_cookie_flags(client, make_user, database):
    make_user("anna@example.com")
    assert client.get("/").status_code == 302
    r = login(client, "anna@example.com")
    assert r.status_code == 302 and r.headers["Location"] == "/"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "centrala_session=" in cookie
    assert client.get("/").status_code == 200
    r = post(client, "/logout")
    assert r.status_code == 302 and client.get("/").status_code == 302
    with database.session() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-2:] == ["login", "logout"]


def test_wrong_password_and_unknown_user_look_the_same(client, make_user):
    make_user("anna@example.com")
    a = login(client, "anna@example.com", "wrong password")
    b = login(client, "nobody@example.com", "wrong password")
    assert a.status_code == b.status_code == 401
    assert "Incorrect email or password." in a.get_data(as_text=True)
    assert "Incorrect email or password." in b.get_data(as_text=True)


def test_session_is_replaced_at_login(app, make_user):
    make_user("anna@example.com")
    client = app.test_client()
    csrf(client)
    before = client.get_cookie("centrala_session").value
    login(client, "anna@example.com")
    after = client.get_cookie("centrala_session").value
    assert before != after
    # the cookie from before login does not carry the login
    other = app.test_client()
    other.set_cookie("centrala_session", before)
    assert other.get("/").status_code == 302


def test_csrf_required_on_state_changing_requests(client, make_user):
    make_user("anna@example.com")
    r = client.post("/login", data={"email": "anna@example.com", "password": PASSWORD})
    assert r.status_code == 400 and "expired or was sent from another site" in r.get_data(as_text=True)
    login(client, "anna@example.com")
    for path, data in [("/logout", {}), ("/status", {"status": "online"}), ("/language", {"lang": "pl"}),
                       ("/profile", {"name": "X"})]:
        assert client.post(path, data=data).status_code == 400, path
    assert client.get("/").status_code == 200  # still logged in


def test_rate_limit_after_five_failures(client, make_user):
    make_user("anna@example.com")
    for _ in range(5):
        assert login(client, "anna@example.com", "nope").status_code == 401
    r = login(client, "anna@example.com")  # even the right password
    assert r.status_code == 429
    assert "Too many failed logins" in r.get_data(as_text=True)


def test_rate_limit_is_per_address(app, make_user):
    make_user("anna@example.com")
    a = app.test_client()
    for _ in range(5):
        login_from(a, "10.1.1.1", "anna@example.com", "nope")
    assert login_from(a, "10.1.1.1", "anna@example.com", PASSWORD).status_code == 429
    assert login_from(app.test_client(), "10.2.2.2", "anna@example.com", PASSWORD).status_code == 302


def login_from(client, ip, email, password):
    token = csrf(client)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": ip})


def test_deactivated_user_cannot_log_in_and_loses_session(app, make_user, database):
    uid = make_user("anna@example.com")
    client = app.test_client()
    login(client, "anna@example.com")
    with database.session() as s:
        s.get(User, uid).active = False
    assert client.get("/").status_code == 302
    assert login(app.test_client(), "anna@example.com").status_code == 401


def test_password_reset_link_single_use_and_no_enumeration(client, make_user, smtp_server, database):
    make_user("anna@example.com")
    token = csrf(client, "/password/forgot")
    known = client.post("/password/forgot", data={"email": "anna@example.com", "csrf_token": token})
    unknown = client.post("/password/forgot", data={"email": "ghost@example.com", "csrf_token": token})
    assert known.status_code == unknown.status_code == 200
    strip = lambda r, e: r.get_data(as_text=True).replace(e, "")
    assert strip(known, "anna@example.com") == strip(unknown, "ghost@example.com")
    msg = smtp_server.wait_for("anna@example.com", subject_contains="Reset")
    assert smtp_server.count("ghost@example.com") == 0
    link = mail_link(msg)
    assert client.get("/password/set").status_code == 200
    assert open_link(client, link).status_code == 200
    r = open_link(client, link, password="short", confirm="short")
    assert r.status_code == 400 and "at least 10 characters" in r.get_data(as_text=True)
    r = open_link(client, link, password="brand new pass", confirm="brand new pass!")
    assert r.status_code == 400 and "do not match" in r.get_data(as_text=True)
    r = open_link(client, link, password="brand new pass", confirm="brand new pass")
    assert r.status_code == 302
    assert open_link(client, link).status_code == 410          # single use
    assert login(client, "anna@example.com", PASSWORD).status_code == 401
    assert login(client, "anna@example.com", "brand new pass").status_code == 302


def test_reset_link_expires(client, make_user, smtp_server, database):
    make_user("anna@example.com")
    token = csrf(client, "/password/forgot")
    client.post("/password/forgot", data={"email": "anna@example.com", "csrf_token": token})
    link = mail_link(smtp_server.wait_for("anna@example.com"))
    with database.session() as s:
        row = s.scalar(select(AuthToken))
        assert row.purpose == "reset"
        lifetime = (row.expires_at.replace(tzinfo=timezone.utc) if row.expires_at.tzinfo is None else row.expires_at) \
            - datetime.now(timezone.utc)
        assert timedelta(minutes=59) < lifetime <= timedelta(hours=1)   # 1 h default
        row.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    r = open_link(client, link)
    assert r.status_code == 410 and "expired" in r.get_data(as_text=True)


def test_password_change_ends_other_sessions(app, make_user, database):
    from centrala.users import set_password

    uid = make_user("anna@example.com")
    client = app.test_client()
    login(client, "anna@example.com")
    with database.session() as s:
        set_password(s.get(User, uid), "another long password")
    assert client.get("/").status_code == 302


def test_login_redirects_only_to_local_paths(client, make_user):
    make_user("anna@example.com")
    token = csrf(client)
    r = client.post("/login?next=//evil.example/x", data={"email": "anna@example.com", "password": PASSWORD,
                                                          "csrf_token": token})
    assert r.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/\\evil.example/x", "\\\\evil.example", "//evil.example", "https://evil.example/"])
def test_no_redirect_leaves_the_site(client, make_user, target):
    """Login's ?next= and the panel's language/status forms' next= (browsers read '\\' as '/')."""
    make_user("anna@example.com")
    token = csrf(client)
    r = client.post(f"/login?next={target}", data={"email": "anna@example.com", "password": PASSWORD,
                                                  "csrf_token": token})
    assert r.headers["Location"] == "/"
    token = csrf(client, "/")
    for form in ("/language", "/status"):
        data = {"csrf_token": token, "next": target, "lang": "en", "status": "online"}
        assert client.post(form, data=data).headers["Location"] == "/", form
    assert client.post("/language", data={"csrf_token": token, "next": "/history", "lang": "en"}
                       ).headers["Location"] == "/history"
    assert client.post("/language", data={"csrf_token": token, "next": "/ok\r\nSet-Cookie: x=1", "lang": "en"}
                       ).headers["Location"] == "/"
