"""OAuth2 sign-in for mailboxes (XOAUTH2, issue 13): the administrator configures the provider,
signs in with the authorization-code flow (PKCE), Centrala logs in to a real Dovecot whose oauth2
passdb checks the token at a local introspection endpoint, refreshes the token when due, and shows
``reconnect`` with the provider's reason when a refresh is refused."""
import dataclasses
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from agents import events
from centrala.emails import mailboxes as mb
from centrala.emails import oauth, probe
from centrala.emails.connect import MailConnectError, open_imap
from centrala.models import User
from centrala.models_email import Mailbox
from centrala.tokens import create_api_token

from .mailservers import Dovecot
from .oauth_provider import OAuthProvider
from .web_helpers import login

pytestmark = pytest.mark.db
USER = "office@example.com"


@pytest.fixture
def provider():
    with OAuthProvider(username=USER) as p:
        yield p


@pytest.fixture
def imap(tmp_path, provider):
    server = Dovecot(tmp_path / "dovecot-oauth")
    server.extra_config = provider.dovecot_config(tmp_path / "dovecot-oauth")
    with server:
        server.add_user(USER, "unused-password")
        yield server


def oauth_body(provider, imap, **over):
    b = {"label": "M365", "address": USER, "auth": "oauth2", "imap_host": "127.0.0.1", "imap_port": imap.port,
         "imap_security": "starttls", "smtp_host": "127.0.0.1", "smtp_port": 25, "smtp_security": "starttls",
         "oauth_authorize_url": provider.url + "/authorize", "oauth_token_url": provider.url + "/token",
         "oauth_client_id": "centrala", "oauth_client_secret": "client-secret",
         "oauth_scope": "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"}
    b.update(over)
    return b


def test_sign_in_log_in_refresh_and_reconnect(app, make_user, database, provider, imap, web_settings):
    app.extensions["centrala.settings"] = dataclasses.replace(web_settings, mail_ca_file=imap.ca_file)
    admin = make_user("boss@example.com", role="admin")
    with database.session() as s:
        token = create_api_token(s, s.get(User, admin), "t")
        s.commit()
    api = {"Authorization": f"Bearer {token}"}
    c = app.test_client()
    # configured over the API: no password needed, the secret never shown
    r = c.post("/api/v1/mailboxes", json=oauth_body(provider, imap), headers=api)
    assert r.status_code == 201, r.json
    m = r.json
    assert m["auth"] == "oauth2" and m["oauth_signed_in"] is False and m["oauth_has_client_secret"] is True
    assert "client-secret" not in r.get_data(as_text=True) and m["has_password"] is False
    r = c.post(f"/api/v1/mailboxes/{m['id']}/test", headers=api)
    assert r.json["imap"]["code"] == "auth" and "Not signed in" in r.json["imap"]["detail"]
    # sign in: the panel sends the browser to the provider, which comes back with a code
    changed = []
    app.extensions["centrala.bus"].subscribe(events.SETTINGS_CHANGED, lambda e: changed.append(e.data))
    assert login(c, "boss@example.com").status_code == 302
    r = c.get(f"/settings/email/mailboxes/{m['id']}/oauth")
    assert r.status_code == 302 and r.location.startswith(provider.url + "/authorize?")
    q = parse_qs(urlsplit(r.location).query)
    assert q["code_challenge_method"] == ["S256"] and q["login_hint"] == [USER] and q["client_id"] == ["centrala"]
    back = httpx.get(r.location, follow_redirects=False).headers["location"]
    assert back.startswith("http://localhost/settings/email/oauth/callback?")
    bad = back.replace("state=", "state=x")
    assert c.get(urlsplit(bad).path + "?" + urlsplit(bad).query).status_code == 400   # forged state; and spent
    r = c.get(f"/settings/email/mailboxes/{m['id']}/oauth")
    back = httpx.get(r.location, follow_redirects=False).headers["location"]
    r = c.get(urlsplit(back).path + "?" + urlsplit(back).query)
    assert r.status_code == 303 and r.location.endswith(f"/settings/email/mailboxes/{m['id']}")
    assert changed[-1] == {"area": "email", "keys": ["oauth"], "mailbox_id": m["id"], "action": "changed"}
    with database.session() as s:
        box = s.get(Mailbox, m["id"])
        assert box.state == "connecting" and mb.to_json(s, box)["oauth_signed_in"] is True
        assert "at-1" not in (box.oauth_sealed or "")      # sealed
        # Dovecot accepts the token (XOAUTH2, checked at the introspection endpoint)
        ep = mb.endpoint(s, box, "imap", app.extensions["centrala.settings"])
        assert ep.oauth_token == "at-1" and ep.password == ""
        open_imap(ep).logout()
        assert probe.test_mailbox(s, box, app.extensions["centrala.settings"])["imap"].code == "ok"
        # due: refreshed (the refresh token kept), and the new token works
        later = datetime.now(timezone.utc) + timedelta(hours=2)
        assert oauth.access_token(s, box, now=later) == "at-2"
        s.commit()
        open_imap(mb.endpoint(s, box, "imap", app.extensions["centrala.settings"])).logout()
        # a revoked sign-in: reconnect, with the provider's reason
        provider.refuse_refresh = True
        with pytest.raises(MailConnectError) as e:
            oauth.access_token(s, box, now=later + timedelta(hours=2))
        assert e.value.code == "auth"
        s.commit()
        assert box.state == "reconnect" and "expired or revoked" in box.last_error
    page = c.get(f"/settings/email/mailboxes/{m['id']}").get_data(as_text=True)
    assert "Sign in again" in page and "client-secret" not in page and "at-2" not in page


def test_oauth_configuration_is_checked(app, make_user, database, provider, imap):
    make_user("boss@example.com", role="admin")
    with database.session() as s:
        with pytest.raises(mb.MailboxInvalid) as e:
            mb.create(s, oauth_body(provider, imap, oauth_authorize_url="http://example.com/authorize",
                                    oauth_token_url="", oauth_client_id=""))
        assert {f: p.code for f, p in e.value.problems.items()} == {
            "oauth_authorize_url": "oauth_url", "oauth_token_url": "required", "oauth_client_id": "required"}
        box = mb.create(s, oauth_body(provider, imap))
        # an unchanged secret is kept; a new client drops the tokens of the old one
        data = oauth.data_of(s, box)
        data.update(access_token="at-x", refresh_token="rt-x")
        oauth._store(s, box, data)
        assert mb.update(s, box, {"oauth_client_secret": "", "oauth_scope": data["scope"]}) == []
        assert oauth.data_of(s, box)["client_secret"] == "client-secret"
        assert mb.update(s, box, {"oauth_client_id": "other"}) == ["oauth"]
        assert "refresh_token" not in oauth.data_of(s, box) and box.state == "connecting"
        # back to a password: one is needed
        with pytest.raises(mb.MailboxInvalid) as e:
            mb.update(s, box, {"auth": "password"})
        assert e.value.problems["password"].code == "password_required"
