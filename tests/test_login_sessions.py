"""Issue 12, defect 4: logins end server-side; a copied cookie stops working after logout,
deactivation, a new password and "Log out everywhere"; so do its sockets."""
from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from centrala.models import LoginSession, User

from .helpers import wait_for
from .test_chat import Peer
from .web_helpers import PASSWORD, csrf, login, post

pytestmark = pytest.mark.db
COOKIE = "centrala_session"


def _copy(app, client):
    """Another browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def _opens_history(client) -> bool:
    r = client.get("/history")
    if r.status_code == 302:
        assert "/login" in r.headers["Location"]
        return False
    assert r.status_code == 200
    return True


def test_copied_cookie_is_refused_after_logout(app, make_user, database):
    make_user("anna@example.com")
    anna = app.test_client()
    assert login(anna, "anna@example.com").status_code == 302
    copy = _copy(app, anna)
    assert _opens_history(copy)
    assert post(anna, "/logout", page="/logout").status_code == 302
    assert not _opens_history(copy)
    with database.session() as s:
        assert s.scalar(select(LoginSession)) is None   # nothing left to replay


def test_logout_ends_only_this_login(app, make_user):
    make_user("anna@example.com")
    office, home = app.test_client(), app.test_client()
    login(office, "anna@example.com")
    login(home, "anna@example.com")
    post(office, "/logout", page="/logout")
    assert _opens_history(home) and not _opens_history(office)


def test_copied_cookie_is_refused_after_deactivation(app, admin, make_user, database):
    uid = make_user("anna@example.com")
    anna = app.test_client()
    login(anna, "anna@example.com")
    copy = _copy(app, anna)
    assert _opens_history(copy)
    assert post(admin, f"/settings/users/{uid}/deactivate", page="/settings/users").status_code == 302
    with database.session() as s:
        s.get(User, uid).active = True        # even reactivated at once, the old logins stay over
    assert not _opens_history(copy) and not _opens_history(anna)


def test_copied_cookie_is_refused_after_a_new_password(app, make_user, database):
    from centrala.users import set_password

    uid = make_user("anna@example.com")
    anna = app.test_client()
    login(anna, "anna@example.com")
    copy = _copy(app, anna)
    with database.session() as s:
        set_password(s.get(User, uid), "another long password")
    with database.session() as s:
        assert not s.scalars(select(LoginSession).where(LoginSession.user_id == uid)).all()
    assert not _opens_history(copy)


def test_log_out_everywhere_from_my_profile(app, make_user, database):
    make_user("anna@example.com")
    make_user("bob@example.com")
    anna, other_device, bob = app.test_client(), app.test_client(), app.test_client()
    for c, email in ((anna, "anna@example.com"), (other_device, "anna@example.com"), (bob, "bob@example.com")):
        assert login(c, email).status_code == 302
    copy = _copy(app, anna)
    page = anna.get("/profile").get_data(as_text=True)
    assert 'id="logout-everywhere"' in page and 'action="/logout/everywhere"' in page
    r = post(anna, "/logout/everywhere", page="/profile")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    assert not any(_opens_history(c) for c in (anna, other_device, copy))
    assert _opens_history(bob)                 # another user's login is untouched
    assert login(anna, "anna@example.com").status_code == 302   # logging in again works
    assert _opens_history(anna)


def test_log_out_everywhere_in_polish(app, make_user):
    make_user("anna@example.com")
    anna = app.test_client()
    login(anna, "anna@example.com")
    post(anna, "/language", {"lang": "pl"}, page="/profile")
    assert "Wyloguj wszędzie" in anna.get("/profile").get_data(as_text=True)


def _http_login(url: str, email: str) -> requests.Session:
    http = requests.Session()
    token = __import__("re").search(r'name="csrf_token" value="([^"]+)"', http.get(url + "/login").text).group(1)
    assert http.post(url + "/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                     allow_redirects=False).status_code == 302
    return http


def test_sockets_of_ended_logins_are_disconnected_and_refused(app, live_server, make_user):
    make_user("anna@example.com")
    url = live_server.url
    http = _http_login(url, "anna@example.com")
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    other_login = _http_login(url, "anna@example.com")
    other_cookie = "; ".join(f"{c.name}={c.value}" for c in other_login.cookies)
    panel = Peer(url, "/agent", headers={"Cookie": cookie})
    other_panel = Peer(url, "/agent", headers={"Cookie": other_cookie})
    try:
        assert panel.emit("resync")["ok"]
        token = __import__("re").search(r'name="csrf-token" content="([^"]+)"', http.get(url + "/profile").text).group(1)
        assert http.post(url + "/logout/everywhere", data={"csrf_token": token},
                         allow_redirects=False).status_code == 302
        wait_for(lambda: not panel.sio.connected and not other_panel.sio.connected, 5,
                 what="the ended logins' sockets disconnected")
        with pytest.raises(Exception):   # a copied cookie cannot open a new socket either
            Peer(url, "/agent", headers={"Cookie": cookie})
    finally:
        panel.close()
        other_panel.close()


def test_a_login_expires_after_31_days(app, make_user, database):
    from datetime import datetime, timedelta, timezone

    make_user("anna@example.com")
    anna = app.test_client()
    login(anna, "anna@example.com")
    assert _opens_history(anna)
    with database.session() as s:
        s.scalar(select(LoginSession)).created_at = datetime.now(timezone.utc) - timedelta(days=31, minutes=1)
    assert not _opens_history(anna)
