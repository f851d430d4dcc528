"""The pbx controller's event handling without Asterisk: AMI events (as panoramisk hands them
over, dicts) fed to a Controller that is not connected, with a real database and a real bus;
the domain events published and the History rows written are what is checked."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from agents import events
from agents.events import EventBus
from centrala.models import Communication, utcnow
from pbx import history
from pbx.controller import Controller
from pbx.controller.live import LiveCall, OutboundCall

from .helpers import EventRecorder, run_coroutine

pytestmark = pytest.mark.db


@pytest.fixture
def ctl(settings, database):
    return Controller(settings, database, EventBus())


@pytest.fixture
def recorder(ctl):
    return EventRecorder(ctl.bus)


def _agent(make_user, database, email):
    from centrala.models import User

    user_id = make_user(email)
    with database.session() as s:
        return user_id, s.get(User, user_id).sip_username


def _inbound(ctl, database, call_id="1733.7", **flags) -> LiveCall:
    """An inbound call the Stasis flow handed to the queue, its History row open."""
    ctl.calls.enter(call_id, "48500100200", "+48221234567")
    call = LiveCall(caller="48500100200", queued=True, started_at=utcnow(), **flags)
    call.comm_id = history.open_call(database, call_id, "48500100200", "+48221234567", "carrier", call.started_at)
    call.opened.set()
    call.flow_done.set()
    ctl.live[call_id] = call
    return call


def _run(ctl, *steps):
    """Feed AMI events (handler, event) on a loop and let the work they start finish."""
    async def go():
        ctl._sync_wanted = asyncio.Event()
        for handler, event in steps:
            handler(None, event)
            while [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                await asyncio.sleep(0.01)
    run_coroutine(go())


def test_queue_events_ring_then_connect_the_agent_and_hangup_logs_the_call(ctl, recorder, database, make_user):
    ann_id, ann = _agent(make_user, database, "ann@example.com")
    call = _inbound(ctl, database)
    _run(ctl, (ctl._on_queue_event, {"Event": "AgentCalled", "Uniqueid": "1733.7", "Interface": f"PJSIP/{ann}",
                                     "CallerIDNum": "48500100200"}))
    ringing = recorder.wait(events.AGENT_RINGING, 1)
    assert ringing.data == {"user_id": ann_id, "call_id": "1733.7", "caller": "48500100200",
                            "communication_id": call.comm_id}
    _run(ctl, (ctl._on_queue_event, {"Event": "AgentConnect", "Uniqueid": "1733.7", "Interface": f"PJSIP/{ann}",
                                     "DestChannel": f"PJSIP/{ann}-00000002"}))
    recorder.wait(events.CALL_CONNECTED, 1, user_id=ann_id, call_id="1733.7")
    assert call.agent_channel == f"PJSIP/{ann}-00000002" and call.user_id == ann_id
    _run(ctl, (ctl._on_queued_hangup, {"Event": "Hangup", "Uniqueid": "1733.7", "Cause": "16"}))
    ended = recorder.wait(events.CALL_ENDED, 1, call_id="1733.7")
    assert ended.data["cause"] == 16 and ended.data["cause_text"] == "Normal clearing"
    logged = recorder.wait(events.CALL_LOGGED, 1, call_id="1733.7")
    assert logged.data["outcome"] == "answered"
    assert "1733.7" not in ctl.live and len(ctl.calls) == 0
    with database.session() as s:
        row = s.get(Communication, call.comm_id)
        assert row.agent_id == ann_id and row.agents_rung == [ann_id]
        assert row.outcome == "answered" and row.talk_seconds is not None


def test_caller_leaving_the_queue_is_logged_abandoned(ctl, recorder, database):
    call = _inbound(ctl, database)
    _run(ctl, (ctl._on_queue_event, {"Event": "QueueCallerAbandon", "Uniqueid": "1733.7"}),
         (ctl._on_queued_hangup, {"Event": "Hangup", "Uniqueid": "1733.7", "Cause": "16"}))
    assert recorder.wait(events.CALL_LOGGED, 1, call_id="1733.7").data["outcome"] == "abandoned"
    with database.session() as s:
        assert s.get(Communication, call.comm_id).wait_seconds is not None


def test_blind_transfer_rings_the_target_and_hands_the_call_over(ctl, recorder, database, make_user):
    ann_id, ann = _agent(make_user, database, "ann@example.com")
    bob_id, bob = _agent(make_user, database, "bob@example.com")
    call = _inbound(ctl, database, agent_channel=f"PJSIP/{ann}-00000002", user_id=ann_id)
    history.answered(database, call.comm_id, ann_id)
    bob_leg = f"PJSIP/{bob}-00000009"
    _run(ctl, (ctl._on_dial, {"Event": "DialBegin", "Uniqueid": "1733.7", "DestChannel": bob_leg}))
    recorder.wait(events.AGENT_RINGING, 1, user_id=bob_id, call_id="1733.7")
    _run(ctl, (ctl._on_dial, {"Event": "DialEnd", "Uniqueid": "1733.7", "DestChannel": bob_leg,
                              "DialStatus": "ANSWER"}))
    recorder.wait(events.CALL_CONNECTED, 1, user_id=bob_id, call_id="1733.7")
    assert (call.agent_channel, call.user_id) == (bob_leg, bob_id)
    assert not ctl._xfer_legs
    with database.session() as s:
        row = s.get(Communication, call.comm_id)
        assert row.agent_id == bob_id and set(row.agents_rung) == {ann_id, bob_id}


def test_unanswered_transfer_target_leaves_the_call(ctl, recorder, database, make_user):
    ann_id, ann = _agent(make_user, database, "ann@example.com")
    bob_id, bob = _agent(make_user, database, "bob@example.com")
    call = _inbound(ctl, database, agent_channel=f"PJSIP/{ann}-00000002", user_id=ann_id)
    bob_leg = f"PJSIP/{bob}-00000009"
    _run(ctl, (ctl._on_dial, {"Event": "DialBegin", "Uniqueid": "1733.7", "DestChannel": bob_leg}),
         (ctl._on_dial, {"Event": "DialEnd", "Uniqueid": "1733.7", "DestChannel": bob_leg,
                         "DialStatus": "NOANSWER"}))
    recorder.wait(events.AGENT_LEFT_CALL, 1, user_id=bob_id, call_id="1733.7")
    assert call.agent_channel == f"PJSIP/{ann}-00000002" and not ctl._xfer_legs


def test_calls_lost_in_an_outage_close_when_last_seen_not_at_the_resync(database):
    """Defect 7: the resync after a crash closes the row as interrupted at the last moment the
    call was known live (the controller's memory, else the previous controller's heartbeat)."""
    talked = history.open_call(database, "1.1", "48500100200", "+48221234567", "carrier")
    waited = history.open_call(database, "2.2", "48500100201", "+48221234567", "carrier")
    still_live = history.open_call(database, "3.3", "48500100202", "+48221234567", "carrier")
    with database.session() as s:
        started = s.get(Communication, talked).started_at
    started = started if started.tzinfo else started.replace(tzinfo=utcnow().tzinfo)
    with database.session() as s:
        s.get(Communication, talked).answered_at = started + timedelta(seconds=1)
    resync = started + timedelta(seconds=16.3)
    closed = history.close_lost(database, {"3.3"}, resync, {talked: started + timedelta(seconds=3.5)},
                                fallback_seen=started + timedelta(seconds=2))
    assert sorted(closed) == [(talked, "interrupted", "1.1"), (waited, "interrupted", "2.2")]
    with database.session() as s:
        row = s.get(Communication, talked)
        assert row.talk_seconds == 2.5 and history.LOST_NOTE in row.note
        # the previous controller's heartbeat (the row opened a moment after the first one)
        assert s.get(Communication, waited).wait_seconds == pytest.approx(2.0, abs=0.05)
        assert s.get(Communication, still_live).outcome == "in_progress"


def test_click_to_call_answered_then_hung_up_is_logged(ctl, recorder, database):
    comm_id = history.open_call(database, "c2c", "48500100200", "+48221234567", "carrier")
    ctl.outbound["c2c-7"] = OutboundCall(comm_id)
    _run(ctl, (ctl._on_outbound_event, {"Event": "DialEnd", "Uniqueid": "c2c-7", "DialStatus": "ANSWER"}),
         (ctl._on_outbound_event, {"Event": "Hangup", "Uniqueid": "c2c-7", "Cause": "16"}))
    recorder.wait(events.CALL_CONNECTED, 1, call_id="c2c-7")
    assert recorder.wait(events.CALL_LOGGED, 1, call_id="c2c-7").data["outcome"] == "answered"
    assert not ctl.outbound


def test_heartbeat_vouches_for_live_calls_only_with_both_links_up_and_reconciled(ctl, database):
    """Between a link's loss and the reconciliation with Asterisk's channels nobody knows whether
    a call still lives: its last-seen time must stay where it was (defect 7)."""
    call = _inbound(ctl, database)
    call.seen(100.0)
    ctl.ami_up = ctl.ari_up = True
    ctl._calls_verified = False          # a link was lost, Asterisk came back, not reconciled yet
    ctl._mark_calls_seen()
    assert call.last_seen == 100.0
    ctl._calls_verified = True
    ctl.ari_up = False
    ctl._mark_calls_seen()
    assert call.last_seen == 100.0
    ctl.ari_up = True
    ctl._mark_calls_seen()
    assert call.last_seen > 100.0


def test_actions_without_ami_fail_at_once_instead_of_waiting_out_their_deadline(ctl):
    import time

    async def go():
        started = time.monotonic()
        with pytest.raises(ConnectionError, match="AMI is not connected"):
            await ctl._action({"Action": "QueueStatus"}, timeout=5)
        return time.monotonic() - started
    assert run_coroutine(go()) < 0.5
