"""The mail worker against a real Dovecot: IDLE delivery, catch-up after the worker was down, a
server restart mid-session, duplicate delivery, UIDVALIDITY, TLS, a wrong password."""
from __future__ import annotations

import dataclasses
import os
import signal
import time

import pytest
from sqlalchemy import func, select

from agents.events import EventBus
from centrala.emails.worker import MailWorker
from centrala.models_email import EmailMessage, Mailbox
from centrala.secretbox import of_session
from tests import email_samples as samples
from tests.helpers import wait_for

pytestmark = pytest.mark.db
USER, PASSWORD = "office@example.com", "imap secret"


def add_imap_mailbox(database, dovecot, *, kind="shared", user_id=None, security="none", port=None,
                     password=PASSWORD, address=USER) -> int:
    with database.session() as s:
        mb = Mailbox(kind=kind, label="Office", address=address, username=address, imap_host="127.0.0.1",
                     imap_port=port or dovecot.port, imap_security=security, smtp_host="127.0.0.1", smtp_port=25,
                     smtp_security="none", user_id=user_id, password_sealed=of_session(s).seal(password))
        s.add(mb)
        s.commit()
        return mb.id


def count(database, mailbox_id=None) -> int:
    with database.session() as s:
        q = select(func.count()).select_from(EmailMessage).where(EmailMessage.direction == "inbound")
        if mailbox_id:
            q = q.where(EmailMessage.mailbox_id == mailbox_id)
        return s.scalar(q)


def mailbox(database, mailbox_id) -> Mailbox:
    with database.session() as s:
        mb = s.get(Mailbox, mailbox_id)
        s.expunge(mb)
        return mb


@pytest.fixture
def office(dovecot):
    dovecot.add_user(USER, PASSWORD)
    return dovecot


@pytest.fixture
def start_worker(database, settings, office):
    started = []

    def start(**kw):
        s = dataclasses.replace(settings, mail_ca_file=office.ca_file)
        w = MailWorker(database, s, kw.pop("bus", None) or EventBus(), idle_seconds=kw.pop("idle_seconds", 3),
                       rescan_seconds=kw.pop("rescan_seconds", 0.2), backoff_max=0.5, **kw).start()
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


def test_idle_delivery_leaves_mail_on_the_server_and_drops_a_duplicate(office, database, start_worker):
    mid = add_imap_mailbox(database, office)
    start_worker()
    wait_for(lambda: mailbox(database, mid).state == "connected", 10, what="connected")
    raw = samples.plain(subject="Via IDLE", message_id="<idle-1@client>")
    office.deliver(USER, raw)
    wait_for(lambda: count(database, mid) == 1, 10, what="the message received")
    office.deliver(USER, raw)                              # the same message delivered twice
    office.deliver(USER, samples.plain(subject="Next"))
    wait_for(lambda: count(database, mid) == 2, 10, what="the next message")
    assert mailbox(database, mid).last_uid == 3
    c = office.client(USER)
    try:
        c.select("INBOX", readonly=True)
        typ, data = c.fetch("1:*", "(FLAGS)")
        assert typ == "OK" and len(data) == 3 and not any(b"\\Seen" in d for d in data)   # left unread
    finally:
        c.logout()


def test_catch_up_after_the_worker_was_down_fetches_nothing_twice(office, database, start_worker):
    mid = add_imap_mailbox(database, office)
    for i in range(3):
        office.deliver(USER, samples.plain(subject=f"While away {i}"))
    w = start_worker()
    wait_for(lambda: count(database, mid) == 3, 10, what="the mail that waited")
    w.stop()
    office.deliver(USER, samples.plain(subject="After the stop"))
    start_worker()
    wait_for(lambda: count(database, mid) == 4, 10, what="the mail of the downtime")
    assert mailbox(database, mid).last_uid == 4


def sessions_of(port: int) -> list[int]:
    """The server processes holding a connection on ``port`` (Dovecot's imap processes outlive
    its master's stop; a server going down for real closes them)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            f = line.split()
            if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "01":
                inodes.add(f[9])
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in {f"socket:[{i}]" for i in inodes}
                   for fd in os.listdir(f"/proc/{pid}/fd")) and b"dovecot/imap" in open(f"/proc/{pid}/cmdline", "rb").read():
                pids.append(int(pid))
        except OSError:
            continue
    return pids


def test_a_server_restart_mid_session_is_reconnected_and_said(office, database, start_worker):
    mid = add_imap_mailbox(database, office)
    start_worker()
    wait_for(lambda: mailbox(database, mid).state == "connected", 10, what="connected")
    sessions = sessions_of(office.port)
    assert sessions
    office.stop()
    for pid in sessions:
        os.kill(pid, signal.SIGTERM)
    mb = wait_for(lambda: (m := mailbox(database, mid)).state == "error" and m, 10, what="the error state")
    assert mb.last_error
    office.start()
    wait_for(lambda: mailbox(database, mid).state == "connected", 15, what="reconnected")
    office.deliver(USER, samples.plain(subject="After the restart"))
    wait_for(lambda: count(database, mid) == 1, 10, what="mail after the restart")


def test_a_changed_uidvalidity_syncs_again_without_duplicates(office, database, start_worker):
    mid = add_imap_mailbox(database, office)
    office.deliver(USER, samples.plain(subject="One"))
    office.deliver(USER, b"From: x@example.com\r\nSubject: no Message-ID\r\n\r\nbody\r\n")
    w = start_worker()
    wait_for(lambda: count(database, mid) == 2, 10, what="the first sync")
    w.stop()
    with database.session() as s:
        s.get(Mailbox, mid).uidvalidity = 1      # as if the server renumbered its messages
        s.commit()
    start_worker()
    wait_for(lambda: mailbox(database, mid).uidvalidity != 1 and mailbox(database, mid).last_uid == 2, 10,
             what="the re-sync")
    office.deliver(USER, samples.plain(subject="Three"))
    wait_for(lambda: count(database, mid) == 3, 10, what="the next message")
    assert count(database, mid) == 3


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_connections_with_the_servers_certificate(office, database, start_worker, security):
    mid = add_imap_mailbox(database, office, security=security,
                           port=office.ssl_port if security == "ssl" else office.port)
    start_worker()
    office.deliver(USER, samples.plain(subject=f"Over {security}"))
    wait_for(lambda: count(database, mid) == 1, 10, what=f"mail over {security}")


def test_a_wrong_password_is_an_error_state_that_says_so(office, database, start_worker):
    mid = add_imap_mailbox(database, office, password="wrong")
    start_worker()
    mb = wait_for(lambda: (m := mailbox(database, mid)).state == "error" and m, 15, what="the error state")
    assert "login or password" in mb.last_error


def test_a_disabled_mailbox_is_left_alone(office, database, start_worker):
    mid = add_imap_mailbox(database, office)
    start_worker()
    wait_for(lambda: mailbox(database, mid).state == "connected", 10, what="connected")
    with database.session() as s:
        s.get(Mailbox, mid).enabled = False
        s.commit()
    wait_for(lambda: mailbox(database, mid).state == "disabled", 10, what="disabled")
    office.deliver(USER, samples.plain(subject="Not fetched"))
    with database.session() as s:
        s.get(Mailbox, mid).enabled = True
        s.commit()
    wait_for(lambda: count(database, mid) == 1, 10, what="fetched once enabled again")


def test_without_idle_the_worker_polls(office, database, start_worker):
    mid = add_imap_mailbox(database, office)
    start_worker(poll_seconds=0.3, use_idle=False)
    wait_for(lambda: mailbox(database, mid).state == "connected", 10, what="connected")
    office.deliver(USER, samples.plain(subject="Polled"))
    wait_for(lambda: count(database, mid) == 1, 10, what="the polled message")


def test_centrala_mail_worker_runs_in_its_own_process(office, database, settings):
    """``centrala mail worker``: receives until SIGTERM, then ends cleanly."""
    import subprocess
    import sys

    mid = add_imap_mailbox(database, office)
    env = {**os.environ, "CENTRALA_DATA_DIR": str(settings.data_dir), "CENTRALA_DATABASE_URL": settings.db_url,
           "CENTRALA_MAIL_CA_FILE": office.ca_file, "CENTRALA_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "centrala.cli", "mail", "worker"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        office.deliver(USER, samples.plain(subject="To the separate worker"))
        wait_for(lambda: count(database, mid) == 1, 20, what="the message received by the process")
        assert mailbox(database, mid).state == "connected"
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=20)[0]
    assert proc.returncode == 0, out.decode()


def test_a_settings_change_is_seen_at_once(office, database, start_worker):
    """Settings / Email announces ``settings.changed`` (area "email"): the worker looks at once."""
    from agents import events

    bus = EventBus()
    w = start_worker(bus=bus, rescan_seconds=3600)  # only the event can make it look again
    wait_for(lambda: w.scans >= 1, 10, what="the first look")
    mid = add_imap_mailbox(database, office)
    time.sleep(0.5)
    assert mailbox(database, mid).state == "connecting"     # not seen yet
    bus.publish(events.SETTINGS_CHANGED, area="email", mailbox_id=mid, action="created", keys=[])
    wait_for(lambda: mailbox(database, mid).state == "connected", 10, what="connected after the event")


def test_real_mail_through_the_server_threads_bounces_and_is_read(office, database, start_worker):
    """A reply chain, a bounce, an auto-reply, ISO-8859-2 with an RFC 2231 name and HTML with
    script and remote images, all delivered to the real server and fetched by the worker."""
    from centrala.emails import ids
    from centrala.config import Secrets
    from centrala.models import Communication
    from centrala.models_email import EmailAttachment

    mid = add_imap_mailbox(database, office)
    start_worker()
    office.deliver(USER, samples.plain(frm="jan@example.com", subject="Order 5", message_id="<o5@client>"))
    wait_for(lambda: count(database, mid) == 1, 10, what="the first message")
    with database.session() as s:
        comm = s.scalar(select(Communication.id))
        key = Secrets.load(office.root.parent / "data").email_id_key
        ours = ids.make_message_id(key, comm, "example.com")    # what emailsend would have sent
        s.add(EmailMessage(communication_id=comm, mailbox_id=mid, direction="outbound", message_id=ours,
                           dedup_key="ours-1", subject="Re: Order 5", text="On its way", delivery="sent"))
        s.commit()
    office.deliver(USER, samples.plain(frm="jan@example.com", subject="Re: Order 5", in_reply_to=f"<{ours}>",
                                       references=f"<o5@client> <{ours}>"))
    office.deliver(USER, samples.out_of_office("jan@example.com", in_reply_to=f"<{ours}>"))
    office.deliver(USER, samples.bounce(ours, "jan@example.com"))
    office.deliver(USER, samples.iso_8859_2_with_rfc2231_attachment())
    office.deliver(USER, samples.windows_1250_html())
    wait_for(lambda: count(database, mid) == 6, 15, what="every message")
    with database.session() as s:
        rows = s.scalars(select(EmailMessage).where(EmailMessage.direction == "inbound")
                         .order_by(EmailMessage.uid)).all()
        assert [r.communication_id == comm for r in rows] == [True, True, True, True, False, False]
        assert [r.kind for r in rows] == ["message", "message", "auto_reply", "bounce", "message", "message"]
        assert s.scalar(select(EmailMessage).where(EmailMessage.message_id == ours)).delivery == "failed"
        assert s.scalar(select(func.count()).select_from(Communication)) == 3
        [a] = s.scalars(select(EmailAttachment).where(EmailAttachment.message_id == rows[4].id)).all()
        assert a.name == "Faktura za październik łódź.pdf"
        assert rows[4].subject == "Faktura za październik" and "Dzień dobry" in rows[4].text
        assert "<script" not in rows[5].html and 'data-remote-src="https://tracker.example/pixel.gif"' in rows[5].html
