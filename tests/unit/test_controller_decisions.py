"""The pbx controller's decisions on Asterisk's events, without Asterisk: AMI/ARI event dicts in,
the step to take out (pbx/controller/decisions.py), and the interrupted-call rule (agents/calls.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from agents.calls import interrupted_end, is_lost
from agents.history import outcome
from pbx.controller.decisions import (
    cause_text, consulting_call, ended_outcome, ends_queued_call, finish_flags, hangup_cause, queue_step,
    stasis_entry, transferred_call, trunk_of)
from pbx.controller.live import LiveCall

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# -- StasisStart --------------------------------------------------------------------------
def test_stasis_start_of_an_inbound_call_from_a_trunk():
    entry = stasis_entry({"id": "1733.7", "name": "PJSIP/trunk-carrier-00000003",
                          "caller": {"number": "48500100200"}, "dialplan": {"exten": "s"}},
                         ["inbound", "48221234567"])
    assert (entry.call_id, entry.caller, entry.number) == ("1733.7", "48500100200", "48221234567")
    assert entry.inbound and entry.endpoint == "trunk-carrier"
    assert trunk_of(entry.endpoint) == "carrier"


def test_stasis_start_without_arguments_is_not_inbound_and_reads_the_extension():
    entry = stasis_entry({"id": "9.1", "name": "PJSIP/ann-0001", "caller": {}, "dialplan": {"exten": "200"}}, None)
    assert not entry.inbound and entry.number == "200" and entry.caller == ""
    assert trunk_of("ann") == "ann" and trunk_of("") is None


# -- queue events -------------------------------------------------------------------------
def test_agent_called_rings_that_agent_for_a_live_call():
    live = {"1.1": LiveCall(caller="48500100200")}
    step = queue_step({"Event": "AgentCalled", "Uniqueid": "1.1", "Interface": "PJSIP/ann",
                       "CallerIDNum": "48500100200", "DestChannel": "PJSIP/ann-0002"}, live)
    assert (step.kind, step.call_id, step.interface, step.caller) == ("ringing", "1.1", "PJSIP/ann", "48500100200")
    assert step.agent_channel is None   # only an answer makes it the agent's channel


def test_agent_connect_names_the_agents_channel():
    live = {"1.1": LiveCall()}
    step = queue_step({"Event": "AgentConnect", "Uniqueid": "1.1", "Interface": "PJSIP/ann",
                       "DestChannel": "PJSIP/ann-0002"}, live)
    assert (step.kind, step.agent_channel) == ("connected", "PJSIP/ann-0002")


def test_caller_abandon_and_other_queue_events():
    live = {"1.1": LiveCall()}
    assert queue_step({"Event": "QueueCallerAbandon", "Uniqueid": "1.1"}, live).kind == "abandoned"
    # events that only refresh the queue view, and calls the controller does not follow
    assert queue_step({"Event": "QueueCallerJoin", "Uniqueid": "1.1"}, live) is None
    assert queue_step({"Event": "AgentComplete", "Uniqueid": "1.1"}, live) is None
    assert queue_step({"Event": "AgentCalled", "Uniqueid": "2.2", "Interface": "PJSIP/ann"}, live) is None


# -- hang-ups and outcomes ------------------------------------------------------------------
def test_ami_hangup_ends_only_calls_handed_to_the_queue():
    live = {"1.1": LiveCall(queued=True), "2.2": LiveCall()}
    assert ends_queued_call({"Event": "Hangup", "Uniqueid": "1.1", "Cause": "16"}, live)
    assert not ends_queued_call({"Event": "Hangup", "Uniqueid": "2.2"}, live)   # in Stasis: ARI ends it
    assert not ends_queued_call({"Event": "DialEnd", "Uniqueid": "1.1"}, live)
    assert not ends_queued_call({"Event": "Hangup", "Uniqueid": "3.3"}, live)
    assert hangup_cause({"Cause": "16"}) == 16 and hangup_cause({"Cause": ""}) is None
    assert hangup_cause({}) is None
    assert cause_text(16) == "Normal clearing" and cause_text(99) == "99"


def test_hangup_outcome_follows_what_happened_to_the_call():
    assert ended_outcome(LiveCall(queued=True), answered=True) == "answered"
    assert ended_outcome(LiveCall(queued=True, abandoned=True), answered=False) == "abandoned"
    assert ended_outcome(LiveCall(queued=True), answered=False) == "missed"
    assert ended_outcome(LiveCall(refused=True), answered=False) == "failed"
    assert ended_outcome(LiveCall(voicemail="recordings/voicemail/vm-1.wav"), answered=True) == "voicemail"
    # the same rule History's row applies (pbx/history.finish)
    flags = finish_flags(LiveCall(abandoned=True))
    assert outcome(ended=True, answered=False, voicemail=bool(flags["voicemail"]), abandoned=flags["abandoned"],
                   refused=flags["refused"]) == "abandoned"


# -- transfers ------------------------------------------------------------------------------
def test_blind_transfer_is_the_callers_channel_dialling_another_agent():
    live = {"1.1": LiveCall(agent_channel="PJSIP/ann-0002")}
    assert transferred_call(live, "1.1", "PJSIP/bob-0005") == ("1.1", False)
    # the queue rings Ann again from the caller's channel: not a transfer
    assert transferred_call(live, "1.1", "PJSIP/ann-0007") is None
    # dials to a number (the trunk) are not followed as an agent's leg
    assert transferred_call(live, "1.1", "Local/123@centrala-transfer") is None


def test_queue_ringing_agents_before_anyone_answered_is_not_a_transfer():
    live = {"1.1": LiveCall()}
    assert transferred_call(live, "1.1", "PJSIP/ann-0002") is None


def test_consultation_leg_matches_the_call_whose_agent_consults_that_target():
    live = {"1.1": LiveCall(agent_channel="PJSIP/ann-0002", consult="Bob", consult_target="bob"),
            "2.2": LiveCall(agent_channel="PJSIP/cid-0003")}
    # the consultation is dialled from the agent's side (a channel that is no live call)
    assert transferred_call(live, "9.9", "PJSIP/bob-0008") == ("1.1", True)
    assert transferred_call(live, "9.9", "PJSIP/dan-0008") is None
    assert consulting_call(live, "PJSIP/ann-0002") == "1.1"
    assert consulting_call(live, "PJSIP/cid-0003") is None   # not consulting
    assert consulting_call(live, None) is None


# -- calls cut off by an outage (issue 12, defect 7) ------------------------------------------
def test_interrupted_call_ends_when_it_was_last_seen_not_at_the_resync():
    # answered at 1 s, last seen at 3.5 s, Asterisk back and resynced at 16.3 s
    assert interrupted_end(at(0), at(1), at(3.5), at(16.3)) == at(3.5)


def test_interrupted_call_never_ends_before_its_last_event_nor_after_the_resync():
    assert interrupted_end(at(0), at(5), at(3), at(20)) == at(5)       # heartbeat older than the answer
    assert interrupted_end(at(0), None, None, at(20)) == at(0)         # nothing seen: no time invented
    assert interrupted_end(at(0), at(2), None, at(20)) == at(2)
    assert interrupted_end(at(0), None, at(30), at(20)) == at(20)


def test_lost_calls_are_those_asterisk_no_longer_has_and_started_before_the_resync():
    assert is_lost("1.1", at(0), {"2.2"}, at(10))
    assert not is_lost("2.2", at(0), {"2.2"}, at(10))
    assert not is_lost("3.3", at(11), set(), at(10))   # started while resyncing


# -- the AMI session filter (issue 12, 12a) ---------------------------------------------------
def test_ami_session_filter_lets_exactly_the_named_events_through():
    import re

    from pbx.ami import session_filter

    pattern = session_filter(["Hangup", "AgentCalled"])
    regex = re.compile(pattern.replace("[[:space:]]", r"\s"))   # POSIX class as Asterisk reads it
    assert regex.search("Event: Hangup\r\nPrivilege: call,all\r\n")
    assert regex.search("Event: AgentCalled\r\nQueue: centrala-inbound\r\n")
    assert not regex.search("Event: HangupRequest\r\nPrivilege: call,all\r\n")
    assert not regex.search("Event: Newstate\r\nChannel: PJSIP/ann-0001\r\n")
