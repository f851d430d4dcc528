"""Received mail reaches the agents (web/emails/offers.py): a shared mailbox's mail is offered to
one Online agent serving email and that mailbox (drawer item), moving on after the timeout; a
personal mailbox's mail goes to its owner's drawer only.  Real Dovecot, real worker, real app."""
from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from centrala.emails.worker import MailWorker
from centrala.models import Communication, Notification, User
from centrala.models_email import MailboxAgent
from tests import email_samples as samples
from tests.helpers import wait_for
from tests.test_email_worker import PASSWORD, USER, add_imap_mailbox
from web.offers import engine, sweep_once

pytestmark = pytest.mark.db


def set_status(database, uid: int, status: str) -> None:
    with database.session() as s:
        s.get(User, uid).status = status
        s.commit()


def drawer(database, uid: int) -> list[Notification]:
    with database.session() as s:
        rows = s.scalars(select(Notification).where(Notification.user_id == uid).order_by(Notification.id)).all()
        for r in rows:
            s.expunge(r)
        return rows


def stored(database) -> bool:
    with database.session() as s:
        return s.scalar(select(Communication.id)) is not None


@pytest.fixture
def worker(app, database, web_settings, dovecot):
    dovecot.add_user(USER, PASSWORD)
    dovecot.add_user("piotr@example.com", PASSWORD)
    w = MailWorker(database, dataclasses.replace(web_settings, mail_ca_file=dovecot.ca_file),
                   app.extensions["centrala.bus"], idle_seconds=3, rescan_seconds=0.2, backoff_max=0.5)
    yield w
    w.stop()


def test_shared_mail_is_offered_to_an_online_agent_of_the_mailbox(app, database, dovecot, worker, make_user):
    app.config["EMAIL_OFFER_TIMEOUT"] = 0.5
    anna, bob, ewa = (make_user(f"{n}@example.com", channels=("email",)) for n in ("anna", "bob", "ewa"))
    chat_only = make_user("carl@example.com", channels=("chat",))
    for uid in (anna, bob, ewa, chat_only):
        set_status(database, uid, "online")
    mid = add_imap_mailbox(database, dovecot)
    with database.session() as s:
        s.add_all([MailboxAgent(mailbox_id=mid, user_id=anna), MailboxAgent(mailbox_id=mid, user_id=bob)])
        s.commit()
    worker.start()
    dovecot.deliver(USER, samples.plain(frm="Jan Kowalski <jan@example.com>", subject="Broken order",
                                        text="The parcel came broken.", message_id="<jan-1@client>"))
    [item] = wait_for(lambda: drawer(database, anna), 10, what="anna's drawer item")
    with database.session() as s:
        comm = s.scalar(select(Communication).where(Communication.channel == "email"))
    assert item.channel == "email" and item.link == f"/email/{comm.id}?accept=1"
    assert "Jan Kowalski" in item.title and "Broken order" in item.body and "came broken" in item.body
    assert drawer(database, bob) == [] and drawer(database, ewa) == [] and drawer(database, chat_only) == []
    # nobody accepts: after the timeout it moves on to the mailbox's other agent, never to ewa
    wait_for(lambda: sweep_once(app) or drawer(database, bob), 10, what="the offer moving on to bob")
    assert drawer(database, anna)[0].state == "ignored" and drawer(database, ewa) == []
    with app.app_context(), database.session() as s:     # as the email page's accept does
        assert engine(app).accept(s, comm.id, bob).ok
    assert drawer(database, bob)[0].state == "answered"
    # the customer writes again: the accepted conversation's agent finds it in the drawer
    dovecot.deliver(USER, samples.plain(frm="jan@example.com", subject="Re: Broken order", text="Photo attached",
                                        in_reply_to="<jan-1@client>"))
    wait_for(lambda: len(drawer(database, bob)) == 2, 10, what="bob's item for the next message")
    assert drawer(database, bob)[1].link == f"/email/{comm.id}"


def test_personal_mail_goes_to_its_owners_drawer_only(app, database, dovecot, worker, make_user):
    owner = make_user("piotr@example.com", channels=("email",))
    other = make_user("anna@example.com", channels=("email",))
    for uid in (owner, other):
        set_status(database, uid, "online")
    add_imap_mailbox(database, dovecot, kind="personal", user_id=owner, address="piotr@example.com")
    worker.start()
    dovecot.deliver("piotr@example.com", samples.plain(frm="Ola <ola@example.com>", to="piotr@example.com",
                                                       subject="Lunch?"))
    [item] = wait_for(lambda: drawer(database, owner), 10, what="the owner's drawer item")
    assert "Ola" in item.title and "Lunch?" in item.body
    for _ in range(5):
        sweep_once(app)
    assert drawer(database, other) == []
    with database.session() as s:
        c = s.scalar(select(Communication).where(Communication.channel == "email"))
        assert c.agent_id == owner and c.remote == "ola@example.com"


def test_a_waiting_email_opened_by_another_process_is_offered_by_the_web(app, database, dovecot, web_settings,
                                                                         make_user):
    """``centrala mail worker`` in its own process with no event bridge: the web's sweep finds it."""
    from agents.events import EventBus
    from web.offers import offer_waiting

    dovecot.add_user(USER, PASSWORD)
    anna = make_user("anna@example.com", channels=("email",))
    set_status(database, anna, "online")
    add_imap_mailbox(database, dovecot)
    other = MailWorker(database, dataclasses.replace(web_settings, mail_ca_file=dovecot.ca_file), EventBus(),
                       idle_seconds=3, rescan_seconds=0.2).start()     # its own bus: nothing reaches the app
    try:
        dovecot.deliver(USER, samples.plain(subject="From elsewhere"))
        wait_for(lambda: stored(database), 10, what="the stored email")
        assert drawer(database, anna) == []
        offer_waiting(app)          # what the web's loop does every OFFER_WAITING_INTERVAL
        wait_for(lambda: drawer(database, anna), 5, what="the offer")
    finally:
        other.stop()
