"""agents/offers.py: who is offered a waiting text conversation, rollover, and transfers — for any
text channel, keyed by the channel's skill."""
import pytest

from agents.offers import (MAX_TRANSFER_NOTE, InputError, OfferAgent, anyone_online, clean_transfer_note, eligible,
                           next_agent, next_colleague, rollover, serves, transfer_refusal, withdrawal_reason)


def test_eligible_agents_serve_the_skill_and_are_online_least_busy_first():
    agents = [OfferAgent(1, "online", ("email",), busy=2), OfferAgent(2, "online", ("chat", "email")),
              OfferAgent(3, "break", ("email",)), OfferAgent(4, "online", ("voice_in",)),
              OfferAgent(5, "online", ("email",), active=False), OfferAgent(6, "online", ("email",))]
    assert eligible(agents, "email") == [2, 6, 1]
    assert eligible(agents, "chat") == [2]
    assert eligible(agents, "sms") == [] and not anyone_online(agents, "sms")
    assert serves(agents[1], "chat") and not serves(agents[2], "email") and not serves(None, "chat")


def test_next_agent_goes_round():
    assert next_agent([], []) is None
    assert next_agent([1, 2, 3], [1]) == 2
    assert next_agent([1, 2], [1, 2]) == 1          # a new round
    assert next_agent([1, 2], [2, 1]) == 2          # not the one just tried
    assert next_agent([7], [7]) == 7


def test_rollover_keeps_the_round_and_starts_a_new_one_when_everyone_had_a_turn():
    assert rollover([1, 2], []) == (1, [1])
    assert rollover([1, 2], [1]) == (2, [1, 2])
    assert rollover([1, 2], [1, 2]) == (1, [1])     # everyone tried: a new round
    assert rollover([], [1]) == (None, [1])         # nobody Online: wait, keep the round
    assert rollover([7], [7]) == (7, [7])


def test_anyone_available_goes_round_the_colleagues_once_never_the_owner():
    assert next_colleague([1, 2, 3], [], owner=1) == 2
    assert next_colleague([1, 2, 3], [2], owner=1) == 3
    assert next_colleague([1, 2, 3], [2, 3], owner=1) is None
    assert next_colleague([1], [], owner=1) is None


def test_who_may_transfer_and_to_whom():
    bob = OfferAgent(2, "online", ("chat",))
    ok = dict(ended=False, owner=1, by=1, skill="chat")
    assert transfer_refusal(**ok, target=bob) is None
    assert transfer_refusal(ended=True, owner=1, by=1, skill="chat", target=bob) == "closed"
    assert transfer_refusal(ended=False, owner=1, by=3, skill="chat", target=bob) == "not_owner"
    assert transfer_refusal(ended=False, owner=None, by=1, skill="chat", target=bob) == "not_owner"
    assert transfer_refusal(**ok, target=bob, pending=True) == "pending"
    assert transfer_refusal(**ok, target=OfferAgent(1, "online", ("chat",))) == "self"
    assert transfer_refusal(**ok, target=OfferAgent(2, "break", ("chat",))) == "not_online"
    assert transfer_refusal(**ok, target=OfferAgent(2, "offline", ("chat",))) == "not_online"
    assert transfer_refusal(**ok, target=OfferAgent(2, "online", ("voice_in",))) == "bad_agent"
    assert transfer_refusal(**ok, target=OfferAgent(2, "online", ("chat",), active=False)) == "bad_agent"
    assert transfer_refusal(**ok, target=None) == "bad_agent"
    assert transfer_refusal(**ok, anyone=True, others=[1, 4]) is None
    assert transfer_refusal(**ok, anyone=True, others=[1]) == "nobody"
    assert transfer_refusal(**ok, anyone=True, others=[]) == "nobody"
    assert transfer_refusal(**{**ok, "skill": "email"}, target=bob) == "bad_agent"   # the channel's skill


def test_why_a_transfer_offer_ran_out():
    assert withdrawal_reason(anyone=True, target=OfferAgent(2, "online", ("chat",))) == "nobody"
    assert withdrawal_reason(anyone=False, target=OfferAgent(2, "online", ("chat",))) == "timeout"
    assert withdrawal_reason(anyone=False, target=OfferAgent(2, "break", ("chat",))) == "away"
    assert withdrawal_reason(anyone=False, target=None) == "away"


def test_transfer_note_is_short_and_single_line():
    assert clean_transfer_note("  Customer asks\nabout  invoice 12/2026 ") == "Customer asks about invoice 12/2026"
    assert clean_transfer_note(None) == ""
    assert clean_transfer_note("x" * MAX_TRANSFER_NOTE) == "x" * MAX_TRANSFER_NOTE
    with pytest.raises(InputError) as exc:
        clean_transfer_note("x" * (MAX_TRANSFER_NOTE + 1))
    assert (exc.value.field, exc.value.code) == ("note", "too_long")
