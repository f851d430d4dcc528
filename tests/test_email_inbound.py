"""The receiving use case (centrala/emails/inbound.py, threads.py) against the database: dedup,
threading across a reply chain, closed conversations, bounces, automatic mail, attachments."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from agents import events
from agents.events import EventBus
from centrala.conversations import lifecycle
from centrala.emails import ids, inbound
from centrala.models import Communication
from centrala.models_email import EmailAttachment, EmailConversation, EmailMessage, Mailbox
from tests import email_samples as samples
from tests.helpers import EventRecorder

pytestmark = pytest.mark.db
KEY = "test-email-id-key"


def add_mailbox(database, kind="shared", user_id=None, address="office@example.com", **kw) -> int:
    with database.session() as s:
        mb = Mailbox(kind=kind, label=kind.title(), address=address, username=address, imap_host="127.0.0.1",
                     imap_port=143, imap_security="none", smtp_host="127.0.0.1", smtp_port=25,
                     smtp_security="none", user_id=user_id, **kw)
        s.add(mb)
        s.commit()
        return mb.id


@pytest.fixture
def rx(database, tmp_path):
    """receive(raw) into one shared mailbox; ``.bus`` records events."""
    class Rx:
        bus = EventBus()
        recorder = None
        mailbox_id = add_mailbox(database)
        ctx = inbound.Context(bus=bus, key=KEY, data_dir=tmp_path / "data")

        def __call__(self, raw: bytes, uid: int | None = None, mailbox_id: int | None = None):
            with database.session() as s:
                return inbound.receive(s, s.get(Mailbox, mailbox_id or self.mailbox_id), raw, uid, self.ctx)

    r = Rx()
    r.recorder = EventRecorder(r.bus)
    return r


def our_reply(database, comm_id: int, mailbox_id: int, text="We will check.") -> str:
    """What emailsend keeps of a reply of ours (the outbound row with our keyed Message-ID)."""
    mid = ids.make_message_id(KEY, comm_id, "example.com")
    with database.session() as s:
        s.add(EmailMessage(communication_id=comm_id, mailbox_id=mailbox_id, direction="outbound",
                           message_id=mid, dedup_key=mid[:64], subject="Re", text=text, delivery="sent"))
        s.commit()
    return mid


def test_a_new_mail_opens_a_conversation_and_a_duplicate_is_dropped(rx, database):
    raw = samples.plain(frm="Jan <Jan@Example.com>", subject="Order 17", text="Where is it?")
    first = rx(raw, uid=1)
    assert first.opened and not first.duplicate
    opened = rx.recorder.wait(events.CONVERSATION_OPENED, 1, communication_id=first.communication_id)
    assert opened.data["channel"] == "email" and opened.data["agent_id"] is None
    rx.recorder.wait(events.CONVERSATION_MESSAGE, 1, communication_id=first.communication_id, text="Where is it?")
    again = rx(raw, uid=2)
    assert again.duplicate
    with database.session() as s:
        c = s.get(Communication, first.communication_id)
        conv = s.get(EmailConversation, c.id)
        assert (c.remote, conv.customer, conv.subject) == ("jan@example.com", "jan@example.com", "Order 17")
        assert len(conv.token) == 8
        assert s.scalar(select(EmailMessage).where(EmailMessage.communication_id == c.id)).uid == 1
        assert len(s.scalars(select(EmailMessage)).all()) == 1


def test_a_reply_chain_threads_by_our_ids_by_seen_ids_and_by_the_token(rx, database):
    a = rx(samples.plain(message_id="<m1@client>", subject="Broken printer"))
    mid = our_reply(database, a.communication_id, rx.mailbox_id)
    b = rx(samples.plain(message_id="<m2@client>", subject="Re: Broken printer", in_reply_to=f"<{mid}>",
                         references=f"<m1@client> <{mid}>"))
    assert b.communication_id == a.communication_id and not b.opened
    # a reply to the customer's own earlier message (seen by us) from the same customer
    c = rx(samples.plain(message_id="<m3@client>", subject="still broken", in_reply_to="<m2@client>"))
    assert c.communication_id == a.communication_id
    with database.session() as s:
        token = s.get(EmailConversation, a.communication_id).token
    d = rx(samples.plain(message_id="<m4@client>", subject=f"Re: Broken printer [#{token}]"))
    assert d.communication_id == a.communication_id


def test_subject_alone_and_other_senders_never_merge(rx, database):
    a = rx(samples.plain(frm="jan@example.com", message_id="<n1@client>", subject="Newsletter"))
    with database.session() as s:
        token = s.get(EmailConversation, a.communication_id).token
    # the same subject from someone else; another person quoting Jan's Message-ID; Jan's token by a stranger
    others = [rx(samples.plain(frm="ewa@example.com", subject="Re: Newsletter")),
              rx(samples.plain(frm="ewa@example.com", subject="Fwd: Newsletter", references="<n1@client>")),
              rx(samples.plain(frm="eve@example.com", subject=f"Re: Newsletter [#{token}]"))]
    assert all(o.opened and o.communication_id != a.communication_id for o in others)
    # a forged Message-ID "of ours" does not join either
    forged = f"c{a.communication_id}.aaaaaaaaaa.0123456789abcdef@example.com"
    assert rx(samples.plain(frm="eve@example.com", in_reply_to=f"<{forged}>")).opened


def test_a_reply_to_a_closed_conversation_opens_a_new_linked_one(rx, database):
    a = rx(samples.plain(message_id="<c1@client>", subject="Invoice"))
    mid = our_reply(database, a.communication_id, rx.mailbox_id)
    with database.session() as s:
        lifecycle.close(s, s.get(Communication, a.communication_id), "answered")
        s.commit()
    b = rx(samples.plain(subject="Re: Invoice", in_reply_to=f"<{mid}>"))
    assert b.opened and b.communication_id != a.communication_id
    # the next reply to the old thread joins the new, still open conversation
    c = rx(samples.plain(subject="Re: Invoice", in_reply_to="<c1@client>"))
    assert c.communication_id == b.communication_id and not c.opened
    # an auto-reply to the old thread does not open anything
    with database.session() as s:
        assert s.get(EmailConversation, b.communication_id).reopened_from == a.communication_id
        lifecycle.close(s, s.get(Communication, b.communication_id), "answered")
        s.commit()
    ooo = rx(samples.out_of_office("jan@example.com", in_reply_to=f"<{mid}>"))
    assert ooo.kind == "auto_reply" and not ooo.opened and ooo.communication_id == b.communication_id


def test_a_bounce_marks_our_message_failed_in_its_conversation(rx, database):
    a = rx(samples.plain(subject="Order"))
    mid = our_reply(database, a.communication_id, rx.mailbox_id)
    r = rx(samples.bounce(mid, "jan@example.com"))
    assert r.kind == "bounce" and not r.opened and r.communication_id == a.communication_id
    with database.session() as s:
        ours = s.scalar(select(EmailMessage).where(EmailMessage.message_id == mid))
        assert ours.delivery == "failed" and "User unknown" in ours.error
        kept = s.get(EmailMessage, r.message_id)
        assert kept.kind == "bounce" and kept.communication_id == a.communication_id
    # a bounce about nothing we know: kept, closed as failed, offered to nobody
    lost = rx(samples.bounce("unknown@elsewhere"))
    assert not lost.opened
    with database.session() as s:
        c = s.get(Communication, lost.communication_id)
        assert c.outcome == "failed" and c.ended_at is not None


def test_automatic_mail_is_flagged_so_nothing_answers_it(rx, database):
    for headers in ({"Precedence": "bulk"}, {"List-Id": "<l.example>"}, {"Return-Path": "<>"}):
        r = rx(samples.plain(frm="news@example.com", headers=headers))
        assert r.kind == "auto_reply"
        with database.session() as s:
            assert s.get(EmailMessage, r.message_id).kind == "auto_reply"


def test_attachments_are_saved_under_the_data_dir_and_html_is_sanitized(rx, database, tmp_path):
    r = rx(samples.iso_8859_2_with_rfc2231_attachment())
    with database.session() as s:
        [a] = s.scalars(select(EmailAttachment).where(EmailAttachment.message_id == r.message_id)).all()
        assert a.name == "Faktura za październik łódź.pdf" and a.size == len(b"%PDF-1.4 fake faktura")
        assert (tmp_path / "data" / "email" / a.stored_name).read_bytes() == b"%PDF-1.4 fake faktura"
    h = rx(samples.windows_1250_html())
    with database.session() as s:
        m = s.get(EmailMessage, h.message_id)
        assert "<script" not in m.html and "<form" not in m.html and "<svg" not in m.html
        assert 'data-remote-src="https://tracker.example/pixel.gif"' in m.html


def test_a_personal_mailbox_gives_the_conversation_to_its_owner(rx, database, make_user):
    owner = make_user("piotr@example.com")
    mb = add_mailbox(database, kind="personal", user_id=owner, address="piotr@example.com")
    r = rx(samples.plain(to="piotr@example.com"), mailbox_id=mb)
    with database.session() as s:
        assert s.get(Communication, r.communication_id).agent_id == owner
    # the same Message-ID in another mailbox is that mailbox's own copy
    assert not rx(samples.plain(message_id="<twice@x>")).duplicate
    assert not rx(samples.plain(message_id="<twice@x>"), mailbox_id=mb).duplicate
