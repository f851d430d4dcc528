"""Chat transfer between agents (CHT-5, INB-3): real Socket.IO clients against the live server —
the owner hands an accepted chat to a colleague (or to anyone available) with a note; the rules
are checked server-side on every event; an offer nobody takes is withdrawn and the chat stays."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from agents import events
from centrala.models import Communication, Notification, User
from centrala.models_chat import ChatMessage

from .helpers import EventRecorder, wait_for
from .test_chat import chat, chat_id_of, offered, offered_now  # noqa: F401  (the live server, agents and visitors)

pytestmark = pytest.mark.db
NOTE = "Customer asks about invoice 12/2026"


def accepted_chat(chat, owner, visitor, body="hello", **extra):
    """A visitor writes, ``owner`` accepts: (chat id, the visitor's token)."""
    ack = visitor.emit("message", {"body": body, **extra})
    cid = ack["chat_id"]
    wait_for(lambda: offered_now(chat.database, cid) == owner.id, 5, what="offer to owner")
    assert owner.emit("chat:accept", {"chat_id": cid}) == {"ok": True}
    visitor.wait("accepted")
    return cid, ack["token"]


def transfer_items(agent, cid):
    """Drawer items offering the (already accepted) chat to ``agent``: transfers."""
    return [n for n in agent.named("notification") if n["link"] == f"/chat/{cid}?accept=1"]


def handed(agent, cid, timeout=5.0, after=0):
    return wait_for(lambda: transfer_items(agent, cid)[after:] and transfer_items(agent, cid)[after], timeout,
                    what="transfer offer")


def english(database, *agents):
    with database.session() as s:
        for a in agents:
            s.get(User, a.id).language = "en"
        s.commit()


def test_transfer_to_a_colleague_with_a_note(chat, database):
    recorder = EventRecorder(chat.app.extensions["centrala.bus"])
    chat.settings(offer_timeout=60)
    anna = chat.agent("anna@example.com")
    olek = chat.agent("olek@example.com")
    ewa = chat.agent("ewa@example.com")
    assert ewa.emit("status:set", {"status": "break"})["ok"]
    chat.agent("piotr@example.com", channels=("voice_in",))       # does not serve chat: not listed
    english(database, olek)
    v = chat.visitor()
    cid, token = accepted_chat(chat, anna, v, "Where is my invoice?")

    # the owner sees who can take the chat: Online first; Break shown, not available
    targets = anna.emit("chat:targets", {"chat_id": cid})
    assert targets["ok"] and targets["anyone"] and targets["pending"] is None
    assert [(a["name"], a["status"], a["available"]) for a in targets["agents"]] == \
        [("Olek Agent", "online", True), ("Ewa Agent", "break", False)]

    ack = anna.emit("chat:transfer", {"chat_id": cid, "user_id": olek.id, "note": NOTE})
    assert ack == {"ok": True, "pending": {"to": "Olek Agent", "anyone": False, "from": anna.id}}
    item = handed(olek, cid)
    assert item["title"] == f"Chat with Visitor #{v_id(database, cid)}, transferred by Anna Agent"
    assert chat_id_of(item) == cid and item["body"] == NOTE and item["channel"] == "chat"
    assert olek.wait("chat:offered")["transfer"] is True
    assert anna.wait("chat:transfer")["state"] == "pending"
    # the offered colleague sees the chat, the note and the Accept button; the waiting list names it
    page = olek.http.get(chat.url + f"/chat/{cid}").text
    assert 'id="chat-accept"' in page and NOTE in page and "Anna Agent hands this chat over to you." in page
    assert f"/chat/{cid}?accept=1" in olek.http.get(chat.url + "/chat").text
    assert ewa.http.get(chat.url + f"/chat/{cid}").status_code == 403   # not offered to her

    # while the offer waits, the chat is still Anna's: she writes, the visitor's words reach her
    assert anna.emit("chat:send", {"chat_id": cid, "body": "One moment please."})["ok"]
    v.wait("message", lambda m: m["body"] == "One moment please.")
    assert v.emit("message", {"body": "Thanks"})["ok"]
    anna.wait("chat:message", lambda m: m["body"] == "Thanks")
    assert olek.emit("chat:send", {"chat_id": cid, "body": "too early"})["ok"] is False
    assert ewa.emit("chat:accept", {"chat_id": cid})["ok"] is False    # only the offered colleague

    assert olek.emit("chat:accept", {"chat_id": cid}) == {"ok": True, "transferred": True}
    joined = v.wait("accepted", lambda a: a["agent"]["name"] == "Olek Agent")
    assert joined["message"]["sender"] == "system" and joined["message"]["body"] == "Olek Agent joined the chat."
    done = anna.wait("chat:transfer", lambda t: t["state"] == "done")
    assert done["to"] == "Olek Agent" and done["entry"]["note"] == NOTE and done["entry"]["sender"] == "system"
    assert (done["entry"]["from"], done["entry"]["to"]) == ("Anna Agent", "Olek Agent")
    olek.wait("notification_resolved", lambda r: r["id"] == item["id"])
    recorder.wait(events.CHAT_TRANSFERRED, 2, communication_id=cid, from_user_id=anna.id, to_user_id=olek.id)

    # ownership moved: Anna's writing is refused, Olek's reaches the visitor, the visitor reaches Olek
    assert anna.emit("chat:send", {"chat_id": cid, "body": "late"})["ok"] is False
    assert anna.emit("chat:transfer", {"chat_id": cid, "user_id": olek.id}) == {"ok": False, "error": "not_owner"}
    assert olek.emit("chat:send", {"chat_id": cid, "body": "Hello, Olek here."})["ok"]
    v.wait("message", lambda m: m["body"] == "Hello, Olek here." and m["agent"] == "Olek Agent")
    assert v.emit("message", {"body": "It is invoice 12/2026"})["ok"]
    olek.wait("chat:message", lambda m: m["body"] == "It is invoice 12/2026")
    assert all(m["body"] != "It is invoice 12/2026" for m in anna.named("chat:message"))

    # the visitor never sees the note: not live, not after a reload
    assert all(NOTE not in repr(d) for _e, d in v.got)
    v2 = chat.visitor(token=token, url="http://shop.test/cart", title="Cart")
    state = v2.wait("state", lambda st: st.get("known"))
    assert "Olek Agent joined the chat." in [m["body"] for m in state["chat"]["messages"]]
    assert NOTE not in repr(state) and state["chat"]["agent"]["name"] == "Olek Agent"
    olek.wait("chat:page", lambda p: p["page"]["url"] == "http://shop.test/cart")   # page history goes to Olek

    # the new owner's view has the whole transcript and page history; the old one is read-only
    page = olek.http.get(chat.url + f"/chat/{cid}").text
    assert "Where is my invoice?" in page and "One moment please." in page and "http://shop.test/" in page
    assert 'id="chat-transfer-open"' in page
    old = anna.http.get(chat.url + f"/chat/{cid}")
    assert old.status_code == 200 and "Transferred to Olek Agent" in old.text and 'id="chat-transfer-open"' not in old.text
    assert f'href="/chat/{cid}"' not in anna.http.get(chat.url + "/chat").text   # no longer among her chats

    assert olek.emit("chat:close", {"chat_id": cid}) == {"ok": True}
    with database.session() as s:
        c = s.get(Communication, cid)
        assert c.agent_id == olek.id and c.outcome == "answered" and c.ended_at is not None
        assert c.agents_rung[:2] == [anna.id, olek.id]
        system = s.scalars(select(ChatMessage).where(ChatMessage.communication_id == cid,
                                                     ChatMessage.sender == "system")).all()
        assert [m.body.split('"event": ')[1].split(",")[0] for m in system] == ['"joined"', '"transfer"']
        assert NOTE in system[1].body
        assert s.get(Notification, item["id"]).state == "answered"
    history = olek.http.get(chat.url + f"/history/{cid}").text
    assert "Anna Agent transferred the chat to Olek Agent." in history and NOTE in history
    assert "Handled before" in history and '<dd id="handled-before">Anna Agent</dd>' in history
    assert '<dd id="agent">Olek Agent</dd>' in history


def v_id(database, cid):
    from centrala.models_chat import ChatConversation

    with database.session() as s:
        return s.get(ChatConversation, cid).visitor_id


def test_transfer_rules_are_checked_on_the_server(chat, database):
    chat.settings(offer_timeout=60)
    anna = chat.agent("anna@example.com")
    olek = chat.agent("olek@example.com")
    ewa = chat.agent("ewa@example.com", online=False)
    ewa.emit("status:set", {"status": "break"})
    voice = chat.agent("piotr@example.com", channels=("voice_in",))
    gone = chat.agent("gone@example.com")
    with database.session() as s:
        s.get(User, gone.id).active = False
        s.commit()
    v = chat.visitor()
    cid, _token = accepted_chat(chat, anna, v)

    def transfer(who, **data):
        return who.emit("chat:transfer", {"chat_id": cid, **data})

    assert transfer(olek, user_id=ewa.id)["error"] == "not_owner"            # only the owner
    assert olek.emit("chat:targets", {"chat_id": cid})["error"] == "not_owner"
    assert transfer(anna, user_id=anna.id)["error"] == "self"
    assert transfer(anna, user_id=ewa.id)["error"] == "not_online"          # on a break
    assert transfer(anna, user_id=voice.id)["error"] == "bad_agent"         # does not serve chat
    assert transfer(anna, user_id=gone.id)["error"] == "bad_agent"          # deactivated
    assert transfer(anna, user_id=99999)["error"] == "bad_agent"
    assert transfer(anna, user_id="2")["error"] == "bad_agent"
    assert transfer(anna)["error"] == "bad_agent"
    assert anna.emit("chat:transfer", {"chat_id": 99999, "user_id": olek.id})["error"] == "not_found"
    assert anna.emit("chat:transfer", "nonsense")["error"] == "not_found"
    assert transfer(anna, user_id=olek.id, note="x" * 201) == {"ok": False, "error": "too_long", "field": "note"}
    assert not transfer_items(olek, cid)
    assert anna.emit("chat:transfer_cancel", {"chat_id": cid})["error"] == "not_pending"

    assert transfer(anna, user_id=olek.id)["ok"]
    assert transfer(anna, user_id=olek.id)["error"] == "pending"               # one at a time
    assert olek.emit("chat:transfer_cancel", {"chat_id": cid})["error"] == "not_owner"
    assert anna.emit("chat:transfer_cancel", {"chat_id": cid}) == {"ok": True}
    withdrawn = anna.wait("chat:transfer", lambda t: t["state"] == "withdrawn")
    assert withdrawn["reason"] == "cancelled"
    olek.wait("chat:offer_withdrawn", lambda o: o["chat_id"] == cid)
    assert olek.emit("chat:accept", {"chat_id": cid})["ok"] is False

    # a chat nobody accepted yet cannot be transferred; nor a closed one
    w = chat.visitor()
    waiting = w.emit("message", {"body": "waiting"})["chat_id"]
    assert anna.emit("chat:transfer", {"chat_id": waiting, "user_id": olek.id})["error"] == "not_owner"
    assert anna.emit("chat:close", {"chat_id": cid}) == {"ok": True}
    assert transfer(anna, user_id=olek.id)["error"] == "closed"
    assert anna.emit("chat:targets", {"chat_id": cid})["error"] == "closed"
    # "anyone available" needs someone besides the owner
    assert olek.emit("status:set", {"status": "offline"})["ok"]
    x = chat.visitor()
    cid2, _token = accepted_chat(chat, anna, x)
    assert anna.emit("chat:transfer", {"chat_id": cid2, "anyone": True})["error"] == "nobody"
    assert anna.emit("chat:targets", {"chat_id": cid2})["anyone"] is False
    with database.session() as s:
        assert s.get(Communication, cid2).agent_id == anna.id


def test_a_transfer_not_accepted_in_time_stays_with_the_owner(chat, database):
    """Offer timeout 1 s (Settings / Chat): the offer is withdrawn, the owner is told."""
    anna = chat.agent("anna@example.com")
    olek = chat.agent("olek@example.com")
    v = chat.visitor()
    cid, _token = accepted_chat(chat, anna, v)
    assert anna.emit("chat:transfer", {"chat_id": cid, "user_id": olek.id, "note": NOTE})["ok"]
    item = handed(olek, cid)
    withdrawn = anna.wait("chat:transfer", lambda t: t["state"] == "withdrawn", timeout=6)
    assert withdrawn["reason"] == "timeout" and withdrawn["to"] == "Olek Agent"
    assert "did not accept; the chat stays with you." in anna.http.get(chat.url + f"/chat/{cid}").text
    olek.wait("notification_resolved", lambda r: r["id"] == item["id"])
    olek.wait("chat:offer_withdrawn", lambda o: o["chat_id"] == cid)
    assert olek.emit("chat:accept", {"chat_id": cid})["ok"] is False           # too late
    assert anna.emit("chat:send", {"chat_id": cid, "body": "Still me."})["ok"]
    v.wait("message", lambda m: m["body"] == "Still me.")
    assert not [d for e, d in v.got if e == "accepted" and d["agent"]["name"] == "Olek Agent"]
    with database.session() as s:
        assert s.get(Communication, cid).agent_id == anna.id
        assert s.get(Notification, item["id"]).state == "ignored"
        assert not [m for m in s.scalars(select(ChatMessage).where(ChatMessage.communication_id == cid,
                                                                   ChatMessage.sender == "system"))
                    if '"transfer"' in m.body]


def test_the_colleague_going_on_break_withdraws_the_offer_at_once(chat, database):
    chat.settings(offer_timeout=60)
    anna = chat.agent("anna@example.com")
    olek = chat.agent("olek@example.com")
    v = chat.visitor()
    cid, _token = accepted_chat(chat, anna, v)
    assert anna.emit("chat:transfer", {"chat_id": cid, "user_id": olek.id})["ok"]
    handed(olek, cid)
    assert olek.emit("status:set", {"status": "break"})["ok"]
    withdrawn = anna.wait("chat:transfer", lambda t: t["state"] == "withdrawn", timeout=8)   # not after 60 s
    assert (withdrawn["reason"], withdrawn["to"]) == ("away", "Olek Agent")
    with database.session() as s:
        assert s.get(Communication, cid).agent_id == anna.id


def test_transfer_to_anyone_available_rolls_over_never_back_to_the_owner(chat, database):
    anna = chat.agent("anna@example.com")
    v = chat.visitor()
    cid, _token = accepted_chat(chat, anna, v)
    olek = chat.agent("olek@example.com")
    ewa = chat.agent("ewa@example.com")
    ack = anna.emit("chat:transfer", {"chat_id": cid, "anyone": True, "note": NOTE})
    assert ack["ok"] and ack["pending"]["anyone"] is True
    first = handed(olek, cid)                  # least busy, then by id: Olek first
    assert not transfer_items(ewa, cid)
    second = handed(ewa, cid, timeout=6)       # not accepted within 1 s: Ewa
    olek.wait("notification_resolved", lambda r: r["id"] == first["id"])
    assert anna.wait("chat:transfer", lambda t: t["state"] == "pending" and t["to"] == "Ewa Agent")
    assert len(transfer_items(anna, cid)) == 1  # her own first offer only: never back to the owner
    assert olek.emit("chat:accept", {"chat_id": cid})["ok"] is False
    assert ewa.emit("chat:accept", {"chat_id": cid}) == {"ok": True, "transferred": True}
    v.wait("accepted", lambda a: a["agent"]["name"] == "Ewa Agent")
    with database.session() as s:
        assert s.get(Communication, cid).agent_id == ewa.id
        assert s.get(Notification, second["id"]).state == "answered"


def test_anyone_available_nobody_accepts_and_closing_withdraws(chat, database):
    anna = chat.agent("anna@example.com")
    v = chat.visitor()
    cid, _token = accepted_chat(chat, anna, v)
    olek = chat.agent("olek@example.com")
    assert anna.emit("chat:transfer", {"chat_id": cid, "anyone": True})["ok"]
    handed(olek, cid)
    withdrawn = anna.wait("chat:transfer", lambda t: t["state"] == "withdrawn", timeout=6)
    assert withdrawn["reason"] == "nobody"

    # the owner closes the chat while an offer waits: the colleague's item is taken back
    chat.settings(offer_timeout=60)
    wait_for(lambda: offered_now(database, cid) is None, 3, what="no transfer pending")
    assert anna.emit("chat:transfer", {"chat_id": cid, "user_id": olek.id})["ok"]
    item = handed(olek, cid, after=1)
    assert anna.emit("chat:close", {"chat_id": cid}) == {"ok": True}
    olek.wait("chat:offer_withdrawn", lambda o: o["chat_id"] == cid)
    assert offered_now(database, cid) is None
    assert olek.emit("chat:accept", {"chat_id": cid})["ok"] is False
    with database.session() as s:
        assert s.get(Communication, cid).agent_id == anna.id
        assert s.get(Notification, item["id"]).state == "ignored"


def test_a_polish_visitor_sees_the_joined_line_in_polish(chat, database):
    chat.settings(offer_timeout=60)
    anna = chat.agent("anna@example.com")
    olek = chat.agent("olek@example.com")
    v = chat.visitor(lang="pl")
    cid, _token = accepted_chat(chat, anna, v, "Dzień dobry", lang="pl-PL")
    assert anna.emit("chat:transfer", {"chat_id": cid, "user_id": olek.id, "note": NOTE})["ok"]
    handed(olek, cid)
    assert olek.emit("chat:accept", {"chat_id": cid})["ok"]
    assert v.wait("accepted", lambda a: a.get("message"))["message"]["body"] == "Olek Agent dołącza do rozmowy."
