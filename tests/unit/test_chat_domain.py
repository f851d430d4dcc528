"""agents/chat.py: routing with rollover, input rules, triggers, origins, rate limits."""
import pytest

from agents.chat import (ChatAgent, ChatInputError, RateLimiter, Router, anyone_online, clean_email,
                         clean_message, clean_name, clean_page, clean_trigger, eligible, next_agent,
                         origin_allowed, origin_of, page_language, parse_origins, trigger_for)


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_eligible_agents_are_online_active_chat_agents_least_busy_first():
    agents = [ChatAgent(1, "online", ("chat",), open_chats=2), ChatAgent(2, "online", ("chat", "email")),
              ChatAgent(3, "break", ("chat",)), ChatAgent(4, "online", ("voice_in",)),
              ChatAgent(5, "online", ("chat",), active=False), ChatAgent(6, "online", ("chat",))]
    assert eligible(agents) == [2, 6, 1]
    assert anyone_online(agents) and not anyone_online(agents[2:5])


def test_next_agent_goes_round():
    assert next_agent([], []) is None
    assert next_agent([1, 2, 3], [1]) == 2
    assert next_agent([1, 2], [1, 2]) == 1          # a new round
    assert next_agent([1, 2], [2, 1]) == 2          # not the one just tried
    assert next_agent([7], [7]) == 7


def test_router_rolls_over_on_timeout_and_only_the_offered_agent_accepts():
    clock = Clock()
    r = Router(30, clock=clock)
    o = r.offer(9, [1, 2])
    assert o.agent_id == 1 and r.current(9) == 1
    clock.t += 29
    assert r.due(lambda _c: [1, 2]) == []
    clock.t += 1.5
    assert r.due(lambda _c: [1, 2]) == [(9, 1, 2)]
    assert not r.accept(9, 1)
    clock.t += 31
    assert r.due(lambda _c: [1, 2]) == [(9, 2, 1)]   # everyone tried: round again
    assert r.accept(9, 1) and r.current(9) is None and r.pending() == []


def test_an_agent_who_leaves_loses_their_offers_at_once():
    clock = Clock()
    r = Router(30, clock=clock)
    r.offer(1, [5, 6])
    r.offer(2, [6, 5])
    assert r.expire_agent(5) == [1]
    assert r.due(lambda _c: [6]) == [(1, 5, 6)]
    assert r.current(2) == 6


def test_router_waits_for_someone_to_come_online():
    clock = Clock()
    r = Router(5, clock=clock)
    assert r.offer(1, []).agent_id is None
    assert r.due(lambda _c: []) == []
    assert r.due(lambda _c: [4]) == [(1, None, 4)]
    r.drop(1)
    assert r.pending() == []


def test_visitor_input_rules():
    assert clean_message("  hi\r\n there ") == "hi\n there"
    for bad, code in ((None, "required"), ("   ", "required"), ("x" * 2001, "too_long")):
        with pytest.raises(ChatInputError) as e:
            clean_message(bad)
        assert e.value.code == code
    assert clean_name("  Jan   Kowalski ") == "Jan Kowalski"
    with pytest.raises(ChatInputError):
        clean_name("")
    assert clean_email(" jan@example.com ") == "jan@example.com"
    for bad in ("jan", "jan@", "@x.pl", "jan@x", "a b@x.pl", "jan@exa_mple.com"):
        with pytest.raises(ChatInputError):
            clean_email(bad)
    assert clean_page("javascript:alert(1)", "t") == ("", "t")
    assert clean_page("https://x.pl/a", " A \n B ") == ("https://x.pl/a", "A B")


def test_triggers_follow_the_page_language():
    assert page_language("pl-PL") == "pl" and page_language("en-GB") == "en" and page_language("") == "en"
    trig = {"pl": {"message": "Dzień dobry", "delay": 15}, "en": {"message": "Hello", "delay": 3}}
    assert trigger_for(trig, True, "pl")["message"] == "Dzień dobry"
    assert trigger_for(trig, True, "de")["message"] == "Hello"
    assert trigger_for(trig, False, "pl") is None
    assert clean_trigger(" Hi ", "7") == ("Hi", 7)
    with pytest.raises(ChatInputError):
        clean_trigger("x" * 251, 1)
    with pytest.raises(ChatInputError):
        clean_trigger("x", "-1")


def test_origins():
    assert origin_of("https://Shop.Example.com:443/a?b") == "https://shop.example.com"
    assert origin_of("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert origin_of("ftp://x") is None and origin_of("") is None and origin_of("nonsense") is None
    assert parse_origins("https://a.pl/x\nhttps://b.pl, https://a.pl") == ["https://a.pl", "https://b.pl"]
    with pytest.raises(ChatInputError):
        parse_origins("a.pl")
    assert origin_allowed("https://evil.pl", [])            # not restricted until set
    assert origin_allowed("https://a.pl/page", ["https://a.pl"])
    assert not origin_allowed("https://evil.pl", ["https://a.pl"]) and not origin_allowed(None, ["https://a.pl"])


def test_rate_limiter_sliding_window():
    clock = Clock()
    lim = RateLimiter(2, 10, clock=clock)
    assert lim.hit("a") and lim.hit("a") and not lim.hit("a") and lim.hit("b")
    clock.t += 10.01
    assert lim.hit("a")


# -- transfer of an accepted chat ---------------------------------------------------------
def test_who_may_transfer_a_chat_and_to_whom():
    from agents.chat import transfer_refusal

    bob = ChatAgent(2, "online", ("chat",))
    ok = dict(ended=False, owner=1, by=1)
    assert transfer_refusal(**ok, target=bob) is None
    assert transfer_refusal(ended=True, owner=1, by=1, target=bob) == "closed"
    assert transfer_refusal(ended=False, owner=1, by=3, target=bob) == "not_owner"
    assert transfer_refusal(ended=False, owner=None, by=1, target=bob) == "not_owner"   # nobody accepted it yet
    assert transfer_refusal(**ok, target=bob, pending=True) == "pending"
    assert transfer_refusal(**ok, target=ChatAgent(1, "online", ("chat",))) == "self"
    assert transfer_refusal(**ok, target=ChatAgent(2, "break", ("chat",))) == "not_online"
    assert transfer_refusal(**ok, target=ChatAgent(2, "offline", ("chat",))) == "not_online"
    assert transfer_refusal(**ok, target=ChatAgent(2, "online", ("voice_in",))) == "bad_agent"
    assert transfer_refusal(**ok, target=ChatAgent(2, "online", ("chat",), active=False)) == "bad_agent"
    assert transfer_refusal(**ok, target=None) == "bad_agent"
    assert transfer_refusal(**ok, anyone=True, others=[1, 4]) is None
    assert transfer_refusal(**ok, anyone=True, others=[1]) == "nobody"
    assert transfer_refusal(**ok, anyone=True, others=[]) == "nobody"


def test_transfer_note_is_short_and_single_line():
    from agents.chat import MAX_TRANSFER_NOTE, clean_transfer_note

    assert clean_transfer_note("  Customer asks\nabout  invoice 12/2026 ") == "Customer asks about invoice 12/2026"
    assert clean_transfer_note(None) == ""
    assert clean_transfer_note("x" * MAX_TRANSFER_NOTE) == "x" * MAX_TRANSFER_NOTE
    with pytest.raises(ChatInputError) as exc:
        clean_transfer_note("x" * (MAX_TRANSFER_NOTE + 1))
    assert (exc.value.field, exc.value.code) == ("note", "too_long")


def test_a_transfer_to_a_colleague_is_one_offer_with_a_deadline():
    from agents.chat import Transfers

    clock = Clock()
    t = Transfers(30, clock=clock)
    offer = t.start(9, 1, target=2, note="invoice")
    assert (offer.agent_id, offer.from_agent, offer.note, offer.anyone) == (2, 1, "invoice", False)
    assert t.start(9, 1, target=3) is None                 # one transfer at a time
    assert t.start(8, 1, target=1) is None                 # never to the owner
    assert t.offered_to(9) == 2 and t.for_agent(2) == [9] and t.for_agent(3) == []
    assert t.accept(9, 3) is None                          # only the offered colleague
    clock.t += 29
    assert t.due(lambda _c: [2, 3]) == []
    clock.t += 1.5
    [(before, nxt)] = t.due(lambda _c: [2, 3])             # a named colleague gets one offer
    assert (before.chat_id, before.agent_id, nxt) == (9, 2, None)
    assert t.pending() == [] and t.accept(9, 2) is None


def test_a_transfer_accepted_in_time_ends_the_offer():
    from agents.chat import Transfers

    clock = Clock()
    t = Transfers(30, clock=clock)
    t.start(9, 1, target=2)
    got = t.accept(9, 2)
    assert got.from_agent == 1 and t.pending() == [] and t.due(lambda _c: [2]) == []


def test_a_colleague_who_leaves_ends_the_transfer_at_once_and_cancel_withdraws():
    from agents.chat import Transfers

    clock = Clock()
    t = Transfers(30, clock=clock)
    t.start(9, 1, target=2)
    t.start(7, 1, target=3)
    assert t.expire_agent(2) == [9]
    assert t.accept(9, 2) is None                          # gone on Break: no longer theirs to take
    [(before, nxt)] = t.due(lambda _c: [3])
    assert before.chat_id == 9 and nxt is None and t.pending() == [7]
    assert t.cancel(7).agent_id == 3 and t.pending() == [] and t.cancel(7) is None


def test_transfer_to_anyone_available_goes_round_once_never_to_the_owner():
    from agents.chat import Transfers

    clock = Clock()
    t = Transfers(10, clock=clock)
    assert t.start(9, 1, candidates=[1]) is None           # nobody but the owner
    offer = t.start(9, 1, candidates=[1, 4, 5])
    assert offer.anyone and offer.agent_id == 4
    clock.t += 11
    [(before, nxt)] = t.due(lambda _c: [1, 4, 5])
    assert (before.agent_id, nxt) == (4, 5) and t.offered_to(9) == 5
    clock.t += 11
    [(before, nxt)] = t.due(lambda _c: [1, 4, 5])          # everyone had their turn: withdrawn
    assert (before.agent_id, nxt) == (5, None) and t.pending() == []
    offer = t.start(9, 1, candidates=[4, 5])
    t.expire_agent(4)                                      # the offered one leaves: the next at once
    [(before, nxt)] = t.due(lambda _c: [5])
    assert (before.agent_id, nxt) == (4, 5)
    assert t.accept(9, 5).tried == [4, 5]
