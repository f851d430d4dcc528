"""The email pages and REST routes (issue 13): the conversation page, replies with Cc and
attachments, New email, attachment downloads, delivery states and Retry, accept through the offer
engine, History's thread, and ``POST /api/v1/communications`` — against the app's own outbox loop,
a real SMTP server (aiosmtpd) and a real IMAP server (Dovecot)."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from centrala.models import User
from centrala.models_email import EmailAttachment, EmailMessage
from centrala.tokens import create_api_token

from .email_send_helpers import inbound_conversation, make_mailbox

pytestmark = pytest.mark.db


def _csrf(client, path="/email/new") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


@pytest.fixture
def world(app, agent, database, dovecot, smtp_server):
    with database.session() as s:
        me = s.scalar(select(User).where(User.email == "agent@example.com"))
        mb = make_mailbox(s, dovecot, smtp_server.port, agents=[me.id])
        c, first = inbound_conversation(
            s, mb, agent_id=me.id, text="Dzień dobry,\nproszę o fakturę.\n\nW dniu 1.12.2026 Biuro pisze:\n> stara treść",
            html='<p>Dzień dobry</p><img src="https://tracker.example/pixel.png"><blockquote>stara treść</blockquote>')
        s.add(EmailAttachment(message_id=first.id, name="skan.svg", content_type="image/svg+xml", size=40,
                              stored_name="a" * 32))
        w = {"me": me.id, "mailbox": mb.id, "comm": c.id, "first": first.id}
    data_dir = app.extensions["centrala.settings"].data_dir
    (data_dir / "email").mkdir(parents=True, exist_ok=True)
    (data_dir / "email" / ("a" * 32)).write_bytes(b"<svg onload='alert(1)'></svg>")
    return w


def test_the_page_shows_the_thread_safely(agent, world):
    r = agent.get(f"/email/{world['comm']}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Show images" in html and "Remote images are blocked" in html
    assert 'sandbox src="/email/messages/' in html and 'id="email-reply"' in html
    body = agent.get(f"/email/messages/{world['first']}/body")
    csp = body.headers["Content-Security-Policy"]
    assert "img-src data:;" in csp and "sandbox" in csp and "script-src" not in csp and "default-src 'none'" in csp
    assert "<details><summary>Show quoted text" in body.get_data(as_text=True)
    assert "Dzień dobry" in body.get_data(as_text=True)
    shown = agent.get(f"/email/messages/{world['first']}/body?images=1")
    assert "img-src data: https: http:" in shown.headers["Content-Security-Policy"]
    assert shown.headers["Referrer-Policy"] == "no-referrer"


def test_attachments_are_always_downloads(agent, world, app, make_user):
    with app.extensions["centrala.db"].session() as s:
        att = s.scalar(select(EmailAttachment)).id
    r = agent.get(f"/email/attachments/{att}")
    assert r.status_code == 200
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert r.headers["Content-Type"] == "application/octet-stream"   # an SVG never renders
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    with app.extensions["centrala.db"].session() as s:
        size = s.get(EmailAttachment, att).size
    page = agent.get(f"/email/{world['comm']}").get_data(as_text=True)
    assert f"{size} B" in page and "0.0 KB" not in page      # sizes as Files shows them
    # an agent who does not serve the mailbox sees neither the page nor the file; nobody logged out does
    from .web_helpers import login

    make_user("obcy@example.com")
    other = app.test_client()
    login(other, "obcy@example.com")
    assert other.get(f"/email/attachments/{att}").status_code == 403
    assert other.get(f"/email/{world['comm']}").status_code == 403
    assert app.test_client().get(f"/email/attachments/{att}").status_code in (302, 401)


def test_reply_from_the_page_with_cc_and_an_attachment(agent, world, smtp_server):
    token = _csrf(agent, f"/email/{world['comm']}")
    r = agent.post(f"/email/{world['comm']}/reply", headers={"X-CSRFToken": token},
                   data={"html": "<p>Faktura w <b>załączniku</b>.</p>", "cc": ["ksiegowosc@example.net"],
                         "files": (io.BytesIO(b"%PDF faktura"), "faktura 12.pdf", "application/pdf")},
                   content_type="multipart/form-data")
    assert r.status_code == 200 and r.get_json()["ok"], r.get_json()
    got = smtp_server.wait_for("klient@example.net")    # the app's outbox loop sent it
    assert "ksiegowosc@example.net" in got["Cc"]
    assert [p.get_filename() for p in got.iter_attachments()] == ["faktura 12.pdf"]
    state = agent.get(f"/email/{world['comm']}/state").get_json()["messages"]
    assert state[-1]["delivery"] in ("sending", "sent")


def test_reply_refusals_name_the_field(agent, world):
    token = _csrf(agent, f"/email/{world['comm']}")
    r = agent.post(f"/email/{world['comm']}/reply", headers={"X-CSRFToken": token}, data={"html": "<p></p>"})
    assert r.status_code == 422 and r.get_json()["field"] == "text"
    r = agent.post(f"/email/{world['comm']}/reply", headers={"X-CSRFToken": token},
                   data={"html": "Treść", "cc": ["nie adres"]})
    assert r.status_code == 422 and r.get_json()["field"] == "cc"


def test_a_failed_message_can_be_retried_from_the_page(agent, world, app):
    with app.extensions["centrala.db"].session() as s:
        m = EmailMessage(communication_id=world["comm"], mailbox_id=world["mailbox"], direction="outbound",
                         message_id="x1@example.com", dedup_key="x1", subject="Re: x", from_addr="office@example.com",
                         to=["klient@example.net"], text="t", html="<p>t</p>", user_id=world["me"],
                         delivery="failed", error="550 5.1.1 User unknown", attempts=1)
        s.add(m)
        s.flush()
        mid = m.id
    html = agent.get(f"/email/{world['comm']}").get_data(as_text=True)
    assert "550 5.1.1 User unknown" in html and "Not sent" in html
    token = _csrf(agent, f"/email/{world['comm']}")
    r = agent.post(f"/email/messages/{mid}/retry", headers={"X-CSRFToken": token})
    assert r.get_json() == {"ok": True, "delivery": "queued"}
    assert agent.post(f"/email/messages/{mid}/retry", headers={"X-CSRFToken": token}).status_code in (200, 409)


def test_new_email_from_the_top_bar(agent, world, smtp_server):
    page = agent.get("/email/new").get_data(as_text=True)
    assert 'id="new-email"' in page and "Biuro Obsługi" in page
    token = _csrf(agent)
    bad = agent.post("/email/new", headers={"X-CSRFToken": token},
                     data={"mailbox_id": str(world["mailbox"]), "to": ["x"], "subject": "S", "html": "B"})
    assert bad.status_code == 422 and bad.get_json()["field"] == "to"
    r = agent.post("/email/new", headers={"X-CSRFToken": token},
                   data={"mailbox_id": str(world["mailbox"]), "to": ["nowy@example.org"], "subject": "Oferta",
                         "html": "<p>Dzień dobry</p>"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["url"].startswith("/email/")
    got = smtp_server.wait_for("nowy@example.org")
    assert got["Subject"].startswith("Oferta [#")


def test_new_email_without_a_mailbox_says_why(app, make_user):
    from .web_helpers import login

    make_user("bez@example.com")
    c = app.test_client()
    login(c, "bez@example.com")
    html = c.get("/email/new").get_data(as_text=True)
    assert "You have no mailbox to send from." in html


def test_history_shows_the_thread_with_a_reply_action(agent, world):
    html = agent.get(f"/history/{world['comm']}").get_data(as_text=True)
    assert 'id="email-history"' in html and f"/email/messages/{world['first']}/body" in html
    assert f'href="/email/{world["comm"]}#reply"' in html


def test_accept_through_the_offer_engine(app, world, database, make_user, dovecot, smtp_server):
    from centrala.models_email import MailboxAgent
    from web.offers import engine

    from .web_helpers import login

    uid = make_user("druga@example.com")
    with database.session() as s:
        s.get(User, uid).status = "online"
        s.add(MailboxAgent(mailbox_id=world["mailbox"], user_id=uid))
        mb = s.get(__import__("centrala.models_email", fromlist=["Mailbox"]).Mailbox, world["mailbox"])
        c, _m = inbound_conversation(s, mb, customer="nowa@example.net", message_id="n1@example.net")
        comm = c.id
    with database.session() as s:
        offer = engine(app).offer(s, comm)
        assert offer is not None and offer.agent_id == uid
    client = app.test_client()
    login(client, "druga@example.com")
    page = client.get(f"/email/{comm}?accept=1").get_data(as_text=True)
    assert 'id="email-accept"' in page
    token = _csrf(client, f"/email/{comm}")
    assert client.post(f"/email/{comm}/accept", headers={"X-CSRFToken": token}).get_json() == {"ok": True}
    assert 'id="email-reply"' in client.get(f"/email/{comm}").get_data(as_text=True)


def test_api_starts_an_email_and_replies(app, world, database, smtp_server):
    with database.session() as s:
        token = create_api_token(s, s.get(User, world["me"]), "t")
    auth = {"Authorization": f"Bearer {token}"}
    c = app.test_client()
    r = c.post("/api/v1/communications", headers=auth,
               json={"channel": "email", "mailbox_id": world["mailbox"], "to": ["api@example.org"], "cc": [],
                     "subject": "Z API", "text": "Treść z API"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["channel"] == "email" and body["direction"] == "outbound"
    assert body["messages"][0]["delivery"] == "queued"
    smtp_server.wait_for("api@example.org", subject_contains="Z API")
    r = c.post(f"/api/v1/communications/{body['id']}/messages", headers=auth, json={"text": "Jeszcze jedno"})
    assert r.status_code == 201 and r.get_json()["delivery"] == "queued"
    bad = c.post("/api/v1/communications", headers=auth,
                 json={"channel": "email", "mailbox_id": 9999, "to": ["a@example.org"], "subject": "S", "text": "T"})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "mailbox_id"
    spec = c.get("/api/v1/openapi.json").get_json()
    assert {"get", "post"} <= set(spec["paths"]["/communications"])


@pytest.mark.parametrize("text, own, quoted", [
    ("Dzień dobry\n\nW dniu 1.12.2026 Jan pisze:\n> stara", "Dzień dobry", "W dniu 1.12.2026 Jan pisze:\n> stara"),
    ("Hi\nOn Mon, 1 Dec 2026 at 10:00, Jan <j@x.pl> wrote:\n> old\n> older", "Hi",
     "On Mon, 1 Dec 2026 at 10:00, Jan <j@x.pl> wrote:\n> old\n> older"),
    ("> cytat na początku\nmoja odpowiedź", "> cytat na początku\nmoja odpowiedź", ""),
    ("Bez cytatu", "Bez cytatu", ""),
])
def test_quoted_history_is_folded(text, own, quoted):
    from web.emails.views import fold_quoted

    assert fold_quoted(text) == (own, quoted)


def test_a_bad_address_is_named_in_the_message(agent, world):
    token = _csrf(agent)
    r = agent.post("/email/new", headers={"X-CSRFToken": token},
                   data={"mailbox_id": str(world["mailbox"]), "to": ["jan@example.org", "jan@@x"], "subject": "S",
                         "html": "B"})
    assert r.status_code == 422 and r.get_json() == {"ok": False, "field": "to",
                                                     "error": "jan@@x is not a valid email address."}
