"""Mailbox use cases (SET-2, ACC-6): validation with every problem at once, the write-only sealed
password, one personal mailbox per user, agents of a shared mailbox, ``endpoint``/``agents_of``,
and the settings-changed event the mail worker listens to."""
import pytest
from sqlalchemy import select

from agents import events
from centrala.emails import mailboxes as mb
from centrala.models import User
from centrala.models_email import Mailbox

pytestmark = pytest.mark.db


def values(**over):
    v = {"kind": "shared", "label": "Office", "address": "office@example.com", "username": "",
         "password": "s3cret", "imap_host": "imap.example.com", "imap_port": 993, "imap_security": "ssl",
         "smtp_host": "smtp.example.com", "smtp_port": 465, "smtp_security": "ssl", "enabled": True,
         "agent_ids": []}
    v.update(over)
    return v


def test_create_seals_the_password_and_never_serialises_it(database, make_user):
    agent = make_user("ann@example.com")
    with database.session() as s:
        m = mb.create(s, values(agent_ids=[agent]))
        s.commit()
        assert m.password_sealed and "s3cret" not in m.password_sealed
        out = mb.to_json(s, m)
        assert "password" not in out and "password_sealed" not in out and "s3cret" not in str(out)
        assert out["has_password"] is True and out["username"] == "office@example.com"
        assert out["agent_ids"] == [agent] and out["state"] == "connecting"
        ep = mb.endpoint(s, m, "smtp")
        assert (ep.host, ep.port, ep.security, ep.username, ep.password) == \
            ("smtp.example.com", 465, "ssl", "office@example.com", "s3cret")


def test_every_refused_field_is_reported_at_once(database, make_user):
    with database.session() as s:
        with pytest.raises(mb.MailboxInvalid) as e:
            mb.create(s, values(label="", address="not-an-address", password="", imap_host="bad host!",
                                imap_port=0, smtp_port=70000, smtp_security="tls", smtp_host=""))
        p = {f: x.code for f, x in e.value.problems.items()}
        assert p == {"label": "required", "address": "address", "password": "password_required",
                     "imap_host": "host", "imap_port": "port", "smtp_port": "port", "smtp_security": "security",
                     "smtp_host": "required"}
        assert "between 1 and 65535" in e.value.problems["imap_port"].message
        with pytest.raises(mb.MailboxInvalid) as e:
            mb.create(s, values(label="x" * 101, kind="group"))
        assert e.value.problems["label"].code == "too_long" and e.value.problems["kind"].code == "kind"


def test_personal_mailbox_rules(database, make_user):
    ann, bob = make_user("ann@example.com"), make_user("bob@example.com")
    with database.session() as s:
        with pytest.raises(mb.MailboxInvalid) as e:
            mb.create(s, values(kind="personal"))
        assert e.value.problems["user_id"].code == "owner_required"
        with pytest.raises(mb.MailboxInvalid) as e:
            mb.create(s, values(kind="personal", user_id=ann, agent_ids=[bob]))
        assert e.value.problems["agent_ids"].code == "no_agents_personal"
        s.get(User, bob).active = False
        with pytest.raises(mb.MailboxInvalid) as e:
            mb.create(s, values(kind="personal", user_id=bob))
        assert e.value.problems["user_id"].code == "owner_unknown"
        m = mb.create(s, values(kind="personal", user_id=ann, address="ann@example.com"))
        with pytest.raises(mb.MailboxInvalid) as e:
            mb.create(s, values(kind="personal", user_id=ann, address="ann2@example.com"))
        assert e.value.problems["user_id"].code == "owner_taken"
        assert mb.personal_of(s, ann).id == m.id and mb.agents_of(s, m) == [ann]
        assert [x.id for x in mb.usable_by(s, ann)] == [m.id] and mb.usable_by(s, bob) == []
        # editing one's own mailbox is not "taken"
        assert mb.update(s, m, {"label": "Ann's"}) == ["label"]


def test_shared_mailbox_agents_must_exist_and_only_active_ones_serve(database, make_user):
    ann, bob = make_user("ann@example.com"), make_user("bob@example.com")
    with database.session() as s:
        with pytest.raises(mb.MailboxInvalid) as e:
            mb.create(s, values(agent_ids=[ann, 999]))
        assert e.value.problems["agent_ids"].code == "agent_unknown" and "999" in e.value.problems["agent_ids"].message
        with pytest.raises(mb.MailboxInvalid) as e:
            mb.create(s, values(agent_ids="1,2"))
        assert e.value.problems["agent_ids"].code == "not_a_list"
        with pytest.raises(mb.MailboxInvalid) as e:
            mb.create(s, values(user_id=ann))
        assert e.value.problems["user_id"].code == "no_owner_shared"
        m = mb.create(s, values(agent_ids=[ann, bob]))
        assert mb.agents_of(s, m) == sorted([ann, bob])
        s.get(User, bob).active = False
        assert mb.agents_of(s, m) == [ann]
        assert [x.id for x in mb.usable_by(s, ann)] == [m.id]


def test_update_without_password_keeps_it_and_connection_changes_reset_the_state(database):
    with database.session() as s:
        m = mb.create(s, values())
        m.state, m.last_error = "error", "auth: nope"
        sealed = m.password_sealed
        assert mb.update(s, m, {"label": "Sales", "password": ""}) == ["label"]
        assert m.password_sealed == sealed and m.state == "error"   # a label says nothing about the connection
        assert mb.update(s, m, {"password": "s3cret"}) == []        # the same password: no change
        changed = mb.update(s, m, {"password": "new-one", "imap_port": "143", "imap_security": "starttls"})
        assert sorted(changed) == ["imap_port", "imap_security", "password"]
        assert m.state == "connecting" and m.last_error == ""
        assert mb.endpoint(s, m, "imap").password == "new-one" and m.imap_port == 143
        assert mb.update(s, m, {"enabled": False}) == ["enabled"] and m.state == "disabled"
        with pytest.raises(mb.MailboxInvalid) as e:
            mb.update(s, m, {"imap_port": "abc", "label": ""})
        assert set(e.value.problems) == {"imap_port", "label"}
        m.password_sealed = None   # (a row written elsewhere) switching it on asks for nothing else
        assert mb.update(s, m, {"enabled": True}) == ["enabled"]


def test_signature_is_sanitized(database):
    with database.session() as s:
        m = mb.create(s, values(signature='<p onclick="x()">Ann<script>alert(1)</script></p><svg></svg>'))
        assert m.signature == "<p>Ann</p>"


def test_remove_and_announce(database):
    bus = events.EventBus()
    got = []
    bus.subscribe(events.SETTINGS_CHANGED, got.append)
    with database.session() as s:
        m = mb.create(s, values())
        s.commit()
        mid = m.id
        mb.remove(s, m)
        s.commit()
        assert s.scalars(select(Mailbox)).all() == []
    mb.announce(bus, mid, "deleted")
    assert got[0].data == {"area": "email", "keys": [], "mailbox_id": mid, "action": "deleted"}


def test_templates_are_sanitized_and_searched(database):
    from centrala.emails import templates as tpl

    with database.session() as s:
        price = tpl.create(s, "Price list", '<p>Our <b>prices</b><script>x()</script> <a href="javascript:1">here</a></p>')
        assert price.body == '<p>Our <b>prices</b> <a rel="noopener noreferrer">here</a></p>'
        tpl.create(s, "Opening hours", "<p>We are open 8–16; see the price list.</p>")
        tpl.create(s, "100% refund", "<p>Refund</p>")
        assert [t.title for t in tpl.search(s, "PRICE")] == ["Price list", "Opening hours"]   # title hits first
        assert [t.title for t in tpl.search(s, "%")] == ["100% refund"]                      # no wildcard
        assert len(tpl.search(s)) == 3
        with pytest.raises(tpl.TemplateInvalid) as e:
            tpl.create(s, "", "<script>only()</script>")
        assert e.value.problems == {"title": "required", "body": "required"}
        tpl.update(s, price, "Prices", "<p>New</p>")
        assert tpl.to_json(price)["text"] == "New"
        tpl.remove(s, price)
        assert [t.title for t in tpl.search(s, "price")] == ["Opening hours"]
