"""The email outbox (issue 13): replies and new emails queued, sent over SMTP to a real server
(aiosmtpd), copied to the real Sent folder (Dovecot), retried, failed with the server's reason,
retried by the agent, and never sent twice across a worker that dies mid-send."""
from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from centrala.conversations import lifecycle
from centrala.emails import ids, outbox
from centrala.models import User, utcnow
from centrala.models_email import EmailAttachment, EmailConversation, EmailMessage

from .email_send_helpers import OFFICE, inbound_conversation, make_mailbox

pytestmark = pytest.mark.db


class Crash(BaseException):
    """A worker process dying at a checkpoint (not an Exception: nothing in the outbox catches it)."""


@pytest.fixture
def world(database, settings, dovecot, smtp_server, make_user):
    cfg = outbox.bind(database, settings, backoff=(60, 120), max_attempts=3, lease=300, timeout=5)
    agent_id = make_user("ewa@example.com", name="Ewa Agentka")
    with database.session() as s:
        mb = make_mailbox(s, dovecot, smtp_server.port, agents=[agent_id], signature="<p>Pozdrawiamy, <b>Biuro</b></p>")
        c, first = inbound_conversation(s, mb, agent_id=agent_id)
        ids_ = {"agent": agent_id, "mailbox": mb.id, "comm": c.id, "first": first.message_id}
    return database, cfg, ids_


def _reply(db, w, text="Zażółć gęślą jaźń — paczka wyszła wczoraj.\n\nDruga linia", attachments=()):
    with db.session() as s:
        c = s.get(lifecycle.Communication, w["comm"])
        sent = lifecycle.reply(s, c, s.get(User, w["agent"]), text, attachments)
        lifecycle.discard_events(s)
        return sent.message.id


def _row(db, msg_id) -> EmailMessage:
    with db.session() as s:
        return s.get(EmailMessage, msg_id)


def test_reply_reaches_the_smtp_server_and_the_sent_folder(world, dovecot, smtp_server, settings):
    db, cfg, w = world
    msg_id = _reply(db, w)
    queued = _row(db, msg_id)
    assert queued.delivery == "queued" and queued.message_id
    # our Message-ID names the conversation, keyed with the data dir's secret
    assert ids.conversation_of(cfg.id_key, queued.message_id) == w["comm"]
    assert queued.in_reply_to == w["first"]
    assert queued.references.split() == ["older1@mail.example.net", w["first"]]
    assert "Zażółć" in queued.text and "<p>" in queued.html and "Pozdrawiamy" in queued.html

    out = outbox.run_once(db)
    assert out.sent == [msg_id]
    got = smtp_server.wait_for("klient@example.net")
    assert got["Message-ID"] == f"<{queued.message_id}>"
    assert got["In-Reply-To"] == f"<{w['first']}>"
    assert got["References"].split() == ["<older1@mail.example.net>", f"<{w['first']}>"]
    assert got["Date"]
    assert OFFICE in got["From"] and "Biuro Obsługi" in got["From"]
    with db.session() as s:
        token = s.get(EmailConversation, w["comm"]).token
    assert got["Subject"] == f"Re: Zamówienie 17 [#{token}]"
    assert "Zażółć gęślą jaźń" in got.get_body(preferencelist=("plain",)).get_content()
    assert "Pozdrawiamy" in got.get_body(preferencelist=("html",)).get_content()

    row = _row(db, msg_id)
    assert row.delivery == "sent" and row.error == "" and row.attempts == 1
    copies = [message_from_bytes(raw, policy=policy.default) for raw in dovecot.messages(OFFICE, "Sent")]
    assert [m["Message-ID"] for m in copies] == [f"<{queued.message_id}>"]
    with db.session() as s:
        assert s.get(outbox.Mailbox, w["mailbox"]).sent_folder == "Sent"   # found by \Sent
    # nothing more to do: a second pass sends nothing
    assert outbox.run_once(db).sent == [] and smtp_server.count("klient@example.net") == 1


def test_new_email_starts_an_outbound_conversation_with_an_attachment(world, smtp_server, settings):
    import io

    db, cfg, w = world
    with db.session() as s:
        c = outbox.start(s, w["mailbox"], w["agent"], ["Jan@Example.org"], ["szef@example.org"], "Oferta",
                         "<p>Witam, w załączniku <b>oferta</b>.</p><script>alert(1)</script>",
                         [{"stream": io.BytesIO(b"%PDF-1.4 oferta"), "name": "oferta ł.pdf",
                           "content_type": "application/pdf"}])
        lifecycle.discard_events(s)
        comm_id = c.id
        assert c.channel == "email" and c.direction == "outbound" and c.agent_id == w["agent"]
        conv = s.get(EmailConversation, comm_id)
        assert conv.customer == "jan@example.org" and conv.subject == "Oferta"
    outbox.run_once(db)
    got = smtp_server.wait_for("jan@example.org")
    assert got["Subject"] == f"Oferta [#{conv.token}]" and "szef@example.org" in got["Cc"]
    assert "In-Reply-To" not in got
    html = got.get_body(preferencelist=("html",)).get_content()
    assert "<b>oferta</b>" in html and "script" not in html
    (att,) = list(got.iter_attachments())
    assert att.get_filename() == "oferta ł.pdf" and att.get_content() == b"%PDF-1.4 oferta"


@pytest.mark.parametrize("bad, field", [({"to": []}, "to"), ({"to": ["nie-adres"]}, "to"),
                                        ({"subject": " "}, "subject"), ({"html": "<p> </p>"}, "text"),
                                        ({"mailbox_id": 999}, "mailbox_id")])
def test_new_email_refuses_what_cannot_be_sent(world, bad, field):
    db, cfg, w = world
    args = {"mailbox_id": w["mailbox"], "to": ["a@example.org"], "cc": [], "subject": "S", "html": "Treść"} | bad
    with db.session() as s:
        with pytest.raises(outbox.ComposeError) as err:
            outbox.start(s, args["mailbox_id"], w["agent"], args["to"], args["cc"], args["subject"], args["html"])
        assert err.value.field == field
        s.rollback()


def test_a_mailbox_the_agent_does_not_serve_is_refused(world, make_user):
    db, cfg, w = world
    other = make_user("obcy@example.com")
    with db.session() as s:
        with pytest.raises(outbox.ComposeError):
            outbox.start(s, w["mailbox"], other, ["a@example.org"], [], "S", "Treść")


class Refusing:
    """An SMTP server (aiosmtpd) that refuses recipients with ``code`` until told otherwise."""

    def __init__(self, reply="451 4.7.1 Greylisted, try again later"):
        self.reply = reply
        self.accepted = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reply:
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.accepted.append(envelope.content)
        return "250 OK"


@pytest.fixture
def refusing():
    from aiosmtpd.controller import Controller

    from .helpers import free_port

    handler = Refusing()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    yield handler
    controller.stop()


def _use_smtp(db, mailbox_id, port):
    with db.session() as s:
        s.get(outbox.Mailbox, mailbox_id).smtp_port = port


def test_temporary_refusals_are_retried_then_fail_with_the_reason_and_the_agent_retries(world, refusing):
    db, cfg, w = world
    _use_smtp(db, w["mailbox"], refusing.port)
    msg_id = _reply(db, w)
    t0 = utcnow()
    assert outbox.run_once(db, now=t0).retried == [msg_id]
    row = _row(db, msg_id)
    assert row.delivery == "queued" and row.attempts == 1 and "451 4.7.1 Greylisted" in row.error
    # not due before its back-off
    assert outbox.run_once(db, now=t0 + timedelta(seconds=30)).retried == []
    assert outbox.run_once(db, now=t0 + timedelta(seconds=61)).retried == [msg_id]
    assert outbox.run_once(db, now=t0 + timedelta(seconds=200)).failed == [msg_id]
    row = _row(db, msg_id)
    assert row.delivery == "failed" and row.attempts == 3 and "Greylisted" in row.error
    assert refusing.accepted == []

    refusing.reply = ""   # the server takes mail again; the agent presses Retry
    with db.session() as s:
        assert outbox.retry(s, s.get(EmailMessage, msg_id))
    assert outbox.run_once(db).sent == [msg_id]
    assert len(refusing.accepted) == 1 and _row(db, msg_id).delivery == "sent"


def test_a_permanent_refusal_fails_at_once_with_the_servers_words(world, refusing):
    db, cfg, w = world
    refusing.reply = "550 5.1.1 <klient@example.net>: Recipient address rejected: User unknown"
    _use_smtp(db, w["mailbox"], refusing.port)
    msg_id = _reply(db, w)
    assert outbox.run_once(db).failed == [msg_id]
    row = _row(db, msg_id)
    assert row.delivery == "failed" and "550 5.1.1" in row.error and "User unknown" in row.error


def test_a_server_that_is_down_is_retried(world):
    from .helpers import free_port

    db, cfg, w = world
    _use_smtp(db, w["mailbox"], free_port())   # nothing listens there
    msg_id = _reply(db, w)
    assert outbox.run_once(db).retried == [msg_id]
    assert "refused the connection" in _row(db, msg_id).error


def _crash_at(stage):
    def checkpoint(at):
        if at == stage:
            raise Crash(at)
    return checkpoint


def test_a_worker_that_died_before_data_sends_it_once_after_the_restart(world, smtp_server):
    db, cfg, w = world
    msg_id = _reply(db, w)
    t0 = utcnow()
    with pytest.raises(Crash):
        outbox.run_once(db, now=t0, checkpoint=_crash_at("claimed"))
    assert _row(db, msg_id).delivery == "sending"
    # another worker while the lease runs: leaves it alone
    assert outbox.run_once(db, now=t0 + timedelta(seconds=10)).sent == []
    assert outbox.run_once(db, now=t0 + timedelta(seconds=301)).sent == [msg_id]
    assert smtp_server.count("klient@example.net") == 1


def test_a_worker_that_died_after_the_server_took_it_never_sends_it_again(world, smtp_server, dovecot):
    db, cfg, w = world
    msg_id = _reply(db, w)
    t0 = utcnow()
    with pytest.raises(Crash):   # the server said 250, the worker died before writing it down
        outbox.run_once(db, now=t0, checkpoint=_crash_at("accepted"))
    smtp_server.wait_for("klient@example.net")
    assert _row(db, msg_id).delivery == "sending" and _row(db, msg_id).data_at is not None
    outbox.run_once(db, now=t0 + timedelta(seconds=301))
    row = _row(db, msg_id)
    assert row.delivery == "failed" and "may have been delivered" in row.error
    assert smtp_server.count("klient@example.net") == 1


def test_a_message_found_in_the_sent_folder_after_a_crash_counts_as_sent(world, smtp_server, dovecot):
    db, cfg, w = world
    msg_id = _reply(db, w)
    t0 = utcnow()
    with pytest.raises(Crash):
        outbox.run_once(db, now=t0, checkpoint=_crash_at("accepted"))
    raw = smtp_server.wait_for("klient@example.net").as_bytes()
    dovecot.deliver(OFFICE, raw, "Sent")   # as Gmail and Microsoft 365 file what they relay
    assert outbox.run_once(db, now=t0 + timedelta(seconds=301)).sent == [msg_id]
    assert _row(db, msg_id).delivery == "sent"
    assert smtp_server.count("klient@example.net") == 1
    assert len(dovecot.messages(OFFICE, "Sent")) == 1


def test_two_workers_claim_a_message_once(world, smtp_server):
    import threading

    db, cfg, w = world
    msg_id = _reply(db, w)
    results = []
    barrier = threading.Barrier(2)

    def worker():
        barrier.wait()
        results.append(outbox.run_once(db).sent)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results, key=len) == [[], [msg_id]]
    assert smtp_server.count("klient@example.net") == 1


def test_reply_attachments_from_files_are_copied_with_the_message(world, settings, smtp_server):
    import io

    from centrala import files as team_files

    db, cfg, w = world
    with db.session() as s:
        f = team_files.store(s, settings.files_dir, io.BytesIO(b"cennik 2026"), "cennik.txt", None, w["agent"],
                             team_files.Limits(10 ** 6, 10 ** 8))
        file_id = f.id
    msg_id = _reply(db, w, "Cennik w załączniku.", [{"file_id": file_id}])
    with db.session() as s:
        (att,) = s.scalars(select(EmailAttachment).where(EmailAttachment.message_id == msg_id)).all()
        assert att.name == "cennik.txt" and att.size == 11
    outbox.run_once(db)
    got = smtp_server.wait_for("klient@example.net")
    (part,) = list(got.iter_attachments())
    assert part.get_filename() == "cennik.txt" and part.get_content() == "cennik 2026"
