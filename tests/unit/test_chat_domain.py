"""agents/chat.py: who may be offered a chat, input rules, triggers, origins, rate limits
(the offer and transfer rules themselves: tests/unit/test_offers_domain.py)."""
import pytest

from agents.chat import (ChatInputError, RateLimiter, anyone_online, clean_email, clean_message, clean_name,
                         clean_page, clean_trigger, eligible, origin_allowed, origin_of, page_language, parse_origins,
                         trigger_for)
from agents.offers import OfferAgent as ChatAgent


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_eligible_agents_are_online_active_chat_agents_least_busy_first():
    agents = [ChatAgent(1, "online", ("chat",), busy=2), ChatAgent(2, "online", ("chat", "email")),
              ChatAgent(3, "break", ("chat",)), ChatAgent(4, "online", ("voice_in",)),
              ChatAgent(5, "online", ("chat",), active=False), ChatAgent(6, "online", ("chat",))]
    assert eligible(agents) == [2, 6, 1]
    assert anyone_online(agents) and not anyone_online(agents[2:5])


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
