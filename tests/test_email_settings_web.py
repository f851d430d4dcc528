"""Settings / Email, My mailbox and /api/v1/mailboxes (SET-2, ACC-6, EML-4) over HTTP: who may do
what, the write-only password, validation messages (EN and PL), Test connection against a real
Dovecot and SMTP server, response templates, the settings-changed event for the mail worker."""
import dataclasses
import re

import pytest
from openapi_spec_validator import validate
from sqlalchemy import select

from agents import events
from centrala.emails import mailboxes as mb
from centrala.models import User
from centrala.models_email import EmailTemplate, Mailbox
from centrala.tokens import create_api_token

from .web_helpers import csrf, login

pytestmark = pytest.mark.db


@pytest.fixture
def users(make_user):
    return {"admin": make_user("boss@example.com", role="admin"), "ann": make_user("ann@example.com"),
            "bob": make_user("bob@example.com")}


@pytest.fixture
def tokens(database, users):
    with database.session() as s:
        out = {who: create_api_token(s, s.get(User, uid), "t") for who, uid in users.items()}
        s.commit()
    return out


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def body(**over):
    b = {"label": "Office", "address": "office@example.com", "password": "s3cret", "imap_host": "127.0.0.1",
         "imap_port": 993, "imap_security": "ssl", "smtp_host": "127.0.0.1", "smtp_port": 465,
         "smtp_security": "ssl"}
    b.update(over)
    return b


def events_of(app, name=events.SETTINGS_CHANGED):
    got = []
    app.extensions["centrala.bus"].subscribe(name, lambda e: got.append(e.data) if e.data.get("area") == "email" else None)
    return got


# -- REST ------------------------------------------------------------------------------------------
def test_api_crud_with_write_only_password(app, tokens, users, database):
    c = app.test_client()
    changed = events_of(app)
    r = c.post("/api/v1/mailboxes", json=body(agent_ids=[users["ann"]]), headers=auth(tokens["admin"]))
    assert r.status_code == 201, r.json
    m = r.json
    assert "password" not in m and m["has_password"] and m["agent_ids"] == [users["ann"]]
    assert m["kind"] == "shared" and m["state"] == "connecting" and m["username"] == "office@example.com"
    assert changed[-1] == {"area": "email", "keys": [], "mailbox_id": m["id"], "action": "created"}
    assert "s3cret" not in c.get("/api/v1/mailboxes", headers=auth(tokens["admin"])).get_data(as_text=True)
    # PATCH without a password keeps it
    r = c.patch(f"/api/v1/mailboxes/{m['id']}", json={"label": "Sales", "imap_port": 143, "imap_security": "starttls"},
                headers=auth(tokens["admin"]))
    assert r.status_code == 200 and r.json["label"] == "Sales" and r.json["imap_port"] == 143
    assert changed[-1]["action"] == "changed" and changed[-1]["keys"] == ["imap_port", "imap_security", "label"]
    with database.session() as s:
        assert mb.endpoint(s, s.get(Mailbox, m["id"]), "imap").password == "s3cret"
    assert c.put(f"/api/v1/mailboxes/{m['id']}", json={"password": None}, headers=auth(tokens["admin"])).status_code == 200
    assert c.get(f"/api/v1/mailboxes/{m['id']}", headers=auth(tokens["admin"])).json["has_password"] is True
    assert c.delete(f"/api/v1/mailboxes/{m['id']}", headers=auth(tokens["admin"])).status_code == 204
    assert changed[-1]["action"] == "deleted"
    assert c.get(f"/api/v1/mailboxes/{m['id']}", headers=auth(tokens["admin"])).status_code == 404


def test_api_validation_messages(app, tokens, users):
    c = app.test_client()
    r = c.post("/api/v1/mailboxes", json=body(label="", address="nope", imap_port=70000, smtp_security="tls",
                                             password=""), headers=auth(tokens["admin"]))
    assert r.status_code == 422
    assert r.json["error"]["fields"] == {
        "label": "This field is required.", "address": "Enter an email address such as office@example.com.",
        "imap_port": "Enter a port between 1 and 65535.", "smtp_security": "Choose SSL/TLS, STARTTLS or none.",
        "password": "Enter the mailbox's password."}
    r = c.post("/api/v1/mailboxes", json=body(kind="personal", user_id=users["ann"], agent_ids=[users["bob"]]),
               headers=auth(tokens["admin"]))
    assert r.status_code == 422 and r.json["error"]["field"] == "agent_ids"
    r = c.post("/api/v1/mailboxes", json=body(kind="personal", user_id=users["ann"]), headers=auth(tokens["admin"]))
    assert r.status_code == 201 and r.json["user_id"] == users["ann"] and r.json["agent_ids"] == []
    r = c.post("/api/v1/mailboxes", json=body(kind="personal", user_id=users["ann"], address="a2@example.com"),
               headers=auth(tokens["admin"]))
    assert r.json["error"]["fields"] == {"user_id": "This user already has a personal mailbox."}
    r = c.post("/api/v1/mailboxes", json=body(agent_ids=[99999]), headers=auth(tokens["admin"]))
    assert r.json["error"]["fields"] == {"agent_ids": "No active user with id 99999."}
    r = c.post("/api/v1/mailboxes", json=body(imap_port="993"), headers=auth(tokens["admin"]))
    assert r.status_code == 422   # strict JSON types: a port is a number


def test_api_is_for_administrators(app, tokens):
    c = app.test_client()
    assert c.get("/api/v1/mailboxes").status_code == 401
    for call in (lambda h: c.get("/api/v1/mailboxes", headers=h), lambda h: c.post("/api/v1/mailboxes", json=body(), headers=h),
                 lambda h: c.get("/api/v1/mailboxes/1", headers=h), lambda h: c.delete("/api/v1/mailboxes/1", headers=h)):
        assert call(auth(tokens["ann"])).status_code == 403


def test_openapi_documents_mailboxes(app):
    doc = app.test_client().get("/api/v1/openapi.json").json
    validate(doc)
    assert set(doc["paths"]["/mailboxes/{mailbox_id}"]) >= {"get", "patch", "put", "delete", "parameters"}
    schema = doc["components"]["schemas"]["MailboxInput"]["properties"]
    assert schema["password"]["writeOnly"] is True and schema["imap_security"]["enum"] == ["ssl", "starttls", "none"]
    assert "password" not in doc["components"]["schemas"]["Mailbox"]["properties"]


def test_api_test_connection(app, tokens, dovecot, smtp_server, web_settings):
    dovecot.add_user("office@example.com", "s3cret")
    app.extensions["centrala.settings"] = dataclasses.replace(web_settings, mail_ca_file=dovecot.ca_file)
    c = app.test_client()
    m = c.post("/api/v1/mailboxes", json=body(imap_port=dovecot.ssl_port, smtp_port=smtp_server.port,
                                              smtp_security="none"), headers=auth(tokens["admin"])).json
    r = c.post(f"/api/v1/mailboxes/{m['id']}/test", headers=auth(tokens["admin"]))
    assert r.status_code == 200
    assert (r.json["imap"]["code"], r.json["smtp"]["code"]) == ("ok", "ok")
    c.patch(f"/api/v1/mailboxes/{m['id']}", json={"password": "wrong"}, headers=auth(tokens["admin"]))
    r = c.post(f"/api/v1/mailboxes/{m['id']}/test", headers=auth(tokens["admin"]))
    assert r.json["imap"]["code"] == "auth" and r.json["imap"]["message"] == "The server refused the login or password."
    assert "wrong" not in r.get_data(as_text=True)


# -- Settings / Email ----------------------------------------------------------------------------------
def panel(app, email):
    c = app.test_client()
    assert login(c, email).status_code == 302
    return c


def form(c, path, **over):
    data = {"csrf_token": csrf(c, path), "kind": "shared", "label": "Office", "address": "office@example.com",
            "username": "", "password": "s3cret", "imap_host": "127.0.0.1", "imap_port": "993",
            "imap_security": "ssl", "smtp_host": "127.0.0.1", "smtp_port": "465", "smtp_security": "ssl",
            "enabled": "1", "signature": "<p>Kind regards</p>"}
    data.update(over)
    return data


def test_settings_page_add_edit_toggle_delete(app, users, database):
    c = panel(app, "boss@example.com")
    page = c.get("/settings/email/").get_data(as_text=True)
    assert "No mailboxes yet" in page and 'href="/settings/email/"' in page
    r = c.post("/settings/email/mailboxes/new", data=form(c, "/settings/email/mailboxes/new",
                                                          agent_ids=[str(users["ann"])]))
    assert r.status_code == 303
    with database.session() as s:
        m = s.scalars(select(Mailbox)).one()
        mid, sealed = m.id, m.password_sealed
        assert mb.agents_of(s, m) == [users["ann"]] and m.signature == "<p>Kind regards</p>"
    page = c.get("/settings/email/").get_data(as_text=True)
    assert "office@example.com" in page and "Connecting…" in page
    edit = c.get(f"/settings/email/mailboxes/{mid}").get_data(as_text=True)
    assert "s3cret" not in edit and "Leave empty to keep the saved password" in edit and sealed not in edit
    r = c.post(f"/settings/email/mailboxes/{mid}", data=form(c, f"/settings/email/mailboxes/{mid}", password="",
                                                            label="Sales", imap_port="0"))
    assert r.status_code == 422 and "Enter a port between 1 and 65535." in r.get_data(as_text=True)
    r = c.post(f"/settings/email/mailboxes/{mid}", data=form(c, f"/settings/email/mailboxes/{mid}", password="",
                                                            label="Sales"))
    assert r.status_code == 303
    with database.session() as s:
        m = s.get(Mailbox, mid)
        assert m.label == "Sales" and m.password_sealed == sealed and mb.agents_of(s, m) == []
    token = csrf(c, "/settings/email/")
    assert c.post(f"/settings/email/mailboxes/{mid}/toggle", data={"csrf_token": token, "enabled": "0"}).status_code == 303
    with database.session() as s:
        assert s.get(Mailbox, mid).state == "disabled"
    assert c.post(f"/settings/email/mailboxes/{mid}/delete", data={"csrf_token": token}).status_code == 303
    with database.session() as s:
        assert s.scalars(select(Mailbox)).all() == []
    # an agent is refused
    agent = panel(app, "ann@example.com")
    assert agent.get("/settings/email/").status_code == 403


def test_settings_page_in_polish(app, users):
    c = panel(app, "boss@example.com")
    c.post("/language", data={"csrf_token": csrf(c, "/"), "lang": "pl", "next": "/"})
    r = c.post("/settings/email/mailboxes/new", data=form(c, "/settings/email/mailboxes/new", imap_port="0",
                                                          address="x"))
    text = r.get_data(as_text=True)
    assert "Podaj port od 1 do 65535." in text


def test_test_connection_button_with_unsaved_values(app, users, dovecot, smtp_server, web_settings):
    dovecot.add_user("office@example.com", "s3cret")
    app.extensions["centrala.settings"] = dataclasses.replace(web_settings, mail_ca_file=dovecot.ca_file)
    c = panel(app, "boss@example.com")
    data = form(c, "/settings/email/mailboxes/new", imap_port=str(dovecot.port), imap_security="starttls",
                smtp_port=str(smtp_server.port), smtp_security="none")
    r = c.post("/settings/email/mailboxes/0/test", data=data)
    assert r.status_code == 200 and r.json["ok"] is True
    assert r.json["results"]["imap"]["side_label"] == "Incoming mail (IMAP)"
    r = c.post("/settings/email/mailboxes/0/test", data={**data, "password": "wrong", "smtp_port": "1"})
    assert r.json["ok"] is False and r.json["results"]["imap"]["code"] == "auth"
    assert r.json["results"]["smtp"]["code"] == "refused"
    r = c.post("/settings/email/mailboxes/0/test", data={**data, "imap_host": ""})
    assert r.status_code == 422 and r.json["errors"] == {"imap_host": "This field is required."}
    # a saved mailbox: the empty password field uses the stored one
    c.post("/settings/email/mailboxes/new", data=data)
    mid = app.extensions["centrala.db"].sessions().scalars(select(Mailbox.id)).one()
    r = c.post(f"/settings/email/mailboxes/{mid}/test", data={**data, "password": ""})
    assert r.json["results"]["imap"]["code"] == "ok"


def test_response_templates(app, users, database):
    c = panel(app, "boss@example.com")
    token = csrf(c, "/settings/email/")
    r = c.post("/settings/email/templates", data={"csrf_token": token, "title": "Price list",
                                                  "body": "<p>Our <b>prices</b><script>alert(1)</script></p>"})
    assert r.status_code == 303
    c.post("/settings/email/templates", data={"csrf_token": token, "title": "Opening hours", "body": "<p>8–16</p>"})
    r = c.post("/settings/email/templates", data={"csrf_token": token, "title": "", "body": ""})
    assert r.status_code == 422 and "This field is required." in r.get_data(as_text=True)
    page = c.get("/settings/email/?q=price").get_data(as_text=True)
    assert "Price list" in page and "Opening hours" not in page and "<script>alert" not in page
    with database.session() as s:
        tid = s.scalars(select(EmailTemplate.id).where(EmailTemplate.title == "Price list")).one()
    r = c.post(f"/settings/email/templates/{tid}", data={"csrf_token": token, "title": "Prices", "body": "<p>New</p>"})
    assert r.status_code == 303
    assert c.post(f"/settings/email/templates/{tid}/delete", data={"csrf_token": token}).status_code == 303
    with database.session() as s:
        assert s.scalars(select(EmailTemplate.title)).all() == ["Opening hours"]


# -- My profile: the personal mailbox -------------------------------------------------------------------
def test_my_mailbox_is_my_own(app, users, database):
    c = panel(app, "ann@example.com")
    assert "Set up my mailbox" in c.get("/profile").get_data(as_text=True)
    page = c.get("/profile/mailbox").get_data(as_text=True)
    assert 'name="kind"' not in page and 'name="agent_ids"' not in page
    # kind, owner and agents sent anyway are ignored: it is Ann's personal mailbox
    r = c.post("/profile/mailbox", data=form(c, "/profile/mailbox", address="ann@example.com", kind="shared",
                                             user_id=str(users["bob"]), agent_ids=[str(users["bob"])]))
    assert r.status_code == 303
    with database.session() as s:
        m = s.scalars(select(Mailbox)).one()
        assert (m.kind, m.user_id, mb.agents_of(s, m)) == ("personal", users["ann"], [users["ann"]])
    assert "ann@example.com" in c.get("/profile").get_data(as_text=True)
    # Bob sees no mailbox of his own, and cannot reach Ann's
    bob = panel(app, "bob@example.com")
    assert "ann@example.com" not in bob.get("/profile/mailbox").get_data(as_text=True)
    bob.post("/profile/mailbox/delete", data={"csrf_token": csrf(bob, "/profile")})
    with database.session() as s:
        assert s.scalars(select(Mailbox)).one().user_id == users["ann"]
    r = c.post("/profile/mailbox", data=form(c, "/profile/mailbox", address="ann@example.com", password="",
                                             label=""))
    assert r.status_code == 422 and "This field is required." in r.get_data(as_text=True)
    c.post("/profile/mailbox/delete", data={"csrf_token": csrf(c, "/profile")})
    with database.session() as s:
        assert s.scalars(select(Mailbox)).all() == []
