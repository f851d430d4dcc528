from agents.backoff import Backoff
from agents.calls import CallRegistry
from agents.events import CALL_ENDED, CALL_ENTERED, EventBus
from agents.status import AgentStatus


def test_backoff_grows_to_ceiling_and_resets():
    b = Backoff(initial=0.5, factor=2, maximum=5)
    assert [b.next_delay() for _ in range(6)] == [0.5, 1, 2, 4, 5, 5]
    b.reset()
    assert b.next_delay() == 0.5


def test_bus_delivers_to_named_and_wildcard_subscribers_and_survives_failures():
    bus = EventBus()
    seen = []

    def broken(_event):
        raise RuntimeError("boom")

    bus.subscribe(CALL_ENTERED, broken)
    unsubscribe = bus.subscribe(CALL_ENTERED, lambda e: seen.append(("named", e.data["call_id"])))
    bus.subscribe("*", lambda e: seen.append(("all", e.name)))
    bus.publish(CALL_ENTERED, call_id="c1")
    bus.publish(CALL_ENDED, call_id="c1")
    unsubscribe()
    bus.publish(CALL_ENTERED, call_id="c2")
    assert seen == [("named", "c1"), ("all", CALL_ENTERED), ("all", CALL_ENDED), ("all", CALL_ENTERED)]


def test_call_registry_lifecycle_and_resync():
    calls = CallRegistry()
    calls.enter("a", "48500100200", "48221234567")
    calls.enter("b", "1", "2")
    assert calls.answered("a").answered_at is not None
    ended = calls.end("a", 16)
    assert ended.ended_normally and "a" not in calls
    assert calls.end("a", 16) is None
    assert calls.replace_all({"x"}) == {"b"}
    assert len(calls) == 0
    calls.enter("c", "1", "2")
    assert not calls.end("c", 17).ended_normally  # busy is not a normal end


def test_only_online_agents_receive_work():
    assert AgentStatus("online").receives_work
    assert not AgentStatus.BREAK.receives_work
    assert not AgentStatus.OFFLINE.receives_work


def test_queue_membership_follows_status():
    from agents.routing import AgentView, Member, anyone_to_answer, desired_members, plan

    agents = [AgentView("agent1", "Ann", "online", ("voice_in", "chat")),
              AgentView("agent2", "Bob", "break", ("voice_in",)),
              AgentView("agent3", "Cid", "offline", ("voice_in",)),
              AgentView("agent4", "Dee", "online", ("chat",)),
              AgentView("agent5", "Eve", "online", ("voice_in",), active=False)]
    desired = desired_members(agents)
    assert desired == {"PJSIP/agent1": Member("PJSIP/agent1", "Ann", False, ""),
                       "PJSIP/agent2": Member("PJSIP/agent2", "Bob", True, "break")}
    p = plan({"PJSIP/agent2": False, "PJSIP/agent3": False}, desired)
    assert [m.interface for m in p.add] == ["PJSIP/agent1"]
    assert p.remove == ("PJSIP/agent3",)
    assert [m.interface for m in p.pause] == ["PJSIP/agent2"]
    assert plan({"PJSIP/agent1": False, "PJSIP/agent2": True}, desired) == plan({}, {})
    assert anyone_to_answer(agents)
    assert not anyone_to_answer([AgentView("agent2", "Bob", "break", ("voice_in",))])


def test_numbers_match_in_any_form():
    from agents.numbers import to_e164

    for raw in ("+48221234567", "48221234567", "0048 22 123 45 67", "221234567", "22 123-45-67"):
        assert to_e164(raw) == "+48221234567", raw
    assert to_e164("+44 20 7946 0958") == "+442079460958"
    assert to_e164("12") is None and to_e164("") is None and to_e164("abc") is None


def test_call_outcomes():
    from agents.history import outcome, seconds_between
    from datetime import datetime, timedelta

    base = dict(ended=True, answered=False, voicemail=False, abandoned=False, refused=False)
    assert outcome(**base) == "missed"
    assert outcome(**{**base, "answered": True}) == "answered"
    assert outcome(**{**base, "abandoned": True}) == "abandoned"
    assert outcome(**{**base, "voicemail": True, "answered": True}) == "voicemail"
    assert outcome(**{**base, "refused": True}) == "failed"
    assert outcome(**{**base, "ended": False}) == "in_progress"
    t = datetime(2026, 1, 1)
    assert seconds_between(t, t + timedelta(seconds=2.5)) == 2.5 and seconds_between(None, t) is None


def test_live_queue_view():
    from agents.routing import queue_stats

    q = queue_stats([{"number": "48500", "wait": 12}, {"number": "48600", "wait": 40}],
                    [{"name": "Ann", "paused": False, "in_call": True, "status": 2},
                     {"name": "Bob", "paused": False, "in_call": False, "status": 1},
                     {"name": "Cid", "paused": True, "in_call": False, "status": 1},
                     {"name": "Dee", "paused": False, "in_call": False, "status": 6}])
    assert q["waiting"] == 2 and q["longest_wait"] == 40 and q["callers"][0]["number"] == "48600"
    assert q["agents"] == {"available": 1, "on_call": 1, "ringing": 1, "paused": 1, "unavailable": 0}
