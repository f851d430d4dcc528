"""Inbound calls reach Online agents' softphones through app_queue (VOI-2, VOI-7, INB-3, STA-2, STA-5).

Agents are SIPp processes: one REGISTERs with the agent's credentials, pointing its Contact at a
second SIPp that answers (or never answers).  The caller is a SIPp behind a trunk.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from agents import events
from centrala.models import Trunk, User
from centrala.users import create_user, set_status
from pbx.amiprobe import ami_actions

from ..helpers import free_port, wait_for

pytestmark = pytest.mark.asterisk
SIPP = Path(__file__).resolve().parents[1] / "sipp"


def ami_command(settings, command: str) -> str:
    s = settings.secrets
    (resp,) = ami_actions("127.0.0.1", settings.ami_port, s.ami_user, s.ami_password,
                          [{"Action": "Command", "Command": command}])
    return resp.get("Output", "")


class SoftphoneAgent:
    """A registered softphone: REGISTER from a port, then a SIPp that answers on that port."""

    def __init__(self, settings, db, bus, tmp_path: Path, email: str, name: str, answer: bool = True):
        self.settings, self.db, self.bus, self.tmp = settings, db, bus, tmp_path
        with db.session() as s:
            u = create_user(s, email, name, "agent", "agent password", channels=["voice_in"])
            self.user_id, self.username, self.password = u.id, u.sip_username, u.sip_password
        self.port = free_port()
        self.answer = answer
        self.uas = None

    def start(self):
        self.bus.publish(events.USERS_CHANGED, user_id=self.user_id)
        wait_for(lambda: self.username in ami_command(self.settings, f"pjsip show endpoint {self.username}")
                 and "Unable to find" not in ami_command(self.settings, f"pjsip show endpoint {self.username}"),
                 10, interval=0.1, what=f"endpoint {self.username} loaded")
        reg = subprocess.run(
            ["sipp", "-sf", str(SIPP / "register.xml"), f"127.0.0.1:{self.settings.sip_port}",
             "-i", "127.0.0.1", "-p", str(self.port), "-au", self.username, "-ap", self.password,
             "-key", "user", self.username, "-key", "contact_port", str(self.port), "-key", "expires", "3600", "-m", "1", "-nostdin",
             "-timeout", "15", "-timeout_error"], cwd=self.tmp, capture_output=True, text=True, timeout=30)
        assert reg.returncode == 0, reg.stdout[-1500:]
        # the softphone answers on the port it registered from (Asterisk rewrites the Contact
        # to the source address, as for a softphone behind NAT)
        scenario = "uas_answer.xml" if self.answer else "uas_no_answer.xml"
        self.uas = subprocess.Popen(
            ["sipp", "-sf", str(SIPP / scenario), "-i", "127.0.0.1", "-p", str(self.port),
             "-mi", "127.0.0.1", "-mp", str(free_port()), "-m", "1", "-nostdin", "-timeout", "20",
             "-timeout_error", "-trace_err", "-error_file", str(self.tmp / f"{self.username}.err")],
            cwd=self.tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_for(lambda: "Avail" in ami_command(self.settings, f"pjsip show aor {self.username}")
                 or "NonQual" in ami_command(self.settings, f"pjsip show aor {self.username}"),
                 5, interval=0.1, what=f"{self.username} registered")
        return self

    def set_status(self, status: str) -> None:
        with self.db.session() as s:
            u = s.get(User, self.user_id)
            set_status(u, status)
            channels = list(u.channels)
        self.bus.publish(events.AGENT_STATUS_CHANGED, user_id=self.user_id, status=status, channels=channels)

    def calls_received(self) -> bool:
        err = self.tmp / f"{self.username}.err"
        return self.uas.poll() is not None

    def finish(self, timeout: float = 30) -> int:
        try:
            return self.uas.wait(timeout)
        except subprocess.TimeoutExpired:
            self.uas.kill()
            self.uas.wait()
            raise

    def stop(self):
        if self.uas and self.uas.poll() is None:
            self.uas.kill()
            self.uas.wait()
        with self.db.session() as s:
            u = s.get(User, self.user_id)
            u.active = False
            set_status(u, "offline")
        self.bus.publish(events.AGENT_STATUS_CHANGED, user_id=self.user_id, status="offline", channels=[])
        self.bus.publish(events.USERS_CHANGED, user_id=self.user_id)


@pytest.fixture
def agents(pbx_instance, controller, tmp_path):
    settings, db, runtime = pbx_instance
    ctl, recorder = controller
    made = []

    def make(email, name, answer=True):
        a = SoftphoneAgent(settings, db, ctl.bus, tmp_path, email, name, answer).start()
        made.append(a)
        return a

    yield make
    for a in made:
        a.stop()
    wait_for(lambda: not ctl.members, 5, what="queue emptied after the test")


def place_call(pbx_instance, tmp_path, talk_ms=3000, number="48221234567"):
    settings, db, runtime = pbx_instance
    port = free_port()
    with db.session() as s:
        s.add(Trunk(name=f"gw{port}", host="127.0.0.1", port=port, enabled=True))
    runtime.reload(db=db)
    wait_for(lambda: f"trunk-gw{port}" in ami_command(settings, "pjsip show identifies"), 10, interval=0.1,
             what="trunk loaded")
    return subprocess.Popen(
        ["sipp", "-sf", str(SIPP / "uac_talk.xml"), "-s", number, f"127.0.0.1:{settings.sip_port}",
         "-i", "127.0.0.1", "-p", str(port), "-mi", "127.0.0.1", "-mp", str(free_port()), "-m", "1",
         "-d", str(talk_ms), "-nostdin", "-timeout", "20", "-timeout_error", "-trace_err",
         "-error_file", str(tmp_path / "caller.err"), "-trace_msg", "-message_file", str(tmp_path / "caller.msg")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_status_drives_queue_membership_within_a_second(pbx_instance, controller, agents):
    ctl, recorder = controller
    ann = agents("ann@example.com", "Ann Online")
    # the registration is seen by the controller and stored for the profile page (VOI-7)
    recorder.wait(events.SIP_REGISTRATION_CHANGED, 5, user_id=ann.user_id)
    with pbx_instance[1].session() as s:
        assert f"sip:{ann.username}@127.0.0.1:{ann.port}" in (s.get(User, ann.user_id).sip_contact or "")
    iface = f"PJSIP/{ann.username}"
    for status, expected in (("online", False), ("break", True)):
        started = time.monotonic()
        ann.set_status(status)
        wait_for(lambda: ctl.members.get(iface) is expected, 1.0, interval=0.02,
                 what=f"queue member state for {status}")
        assert time.monotonic() - started < 1.0
    settings = pbx_instance[0]
    out = ami_command(settings, "queue show centrala-inbound")
    assert ann.username in out and "paused" in out.lower()
    ann.set_status("offline")
    wait_for(lambda: iface not in ctl.members, 1.0, interval=0.02, what="member removed when Offline")


def test_caller_reaches_the_online_agent(pbx_instance, controller, agents, tmp_path):
    ctl, recorder = controller
    ann = agents("ann2@example.com", "Ann Answers")
    ann.set_status("online")
    wait_for(lambda: ctl.members.get(f"PJSIP/{ann.username}") is False, 2, what="Ann in the queue")
    caller = place_call(pbx_instance, tmp_path, talk_ms=3000)
    out, _ = caller.communicate(timeout=60)
    assert caller.returncode == 0, out[-2000:]
    assert ann.finish() == 0, "the agent's softphone did not answer and get the BYE"
    entered = recorder.wait(events.CALL_ENTERED, 5, number="48221234567")
    ended = recorder.wait(events.CALL_ENDED, 10, call_id=entered.data["call_id"])
    assert ended.data["cause"] == 16


def test_unanswered_agent_is_skipped_after_ring_timeout_and_break_is_never_rung(
        pbx_instance, controller, agents, tmp_path):
    settings = pbx_instance[0]
    assert settings.ring_timeout == 2 and settings.queue_strategy == "linear"
    ctl, recorder = controller
    silent = agents("silent@example.com", "Silent Sam", answer=False)
    resting = agents("resting@example.com", "Resting Rita", answer=False)
    bob = agents("bob@example.com", "Bob Answers")
    silent.set_status("online")
    resting.set_status("break")
    bob.set_status("online")
    wait_for(lambda: ctl.members.get(f"PJSIP/{bob.username}") is False
             and ctl.members.get(f"PJSIP/{silent.username}") is False
             and ctl.members.get(f"PJSIP/{resting.username}") is True, 2, what="three members")
    started = time.monotonic()
    caller = place_call(pbx_instance, tmp_path, talk_ms=6000)
    assert silent.finish(30) == 0, "the first agent was not rung and cancelled"
    rang_for = time.monotonic() - started
    assert bob.finish(30) == 0, "the second agent did not answer"
    out, _ = caller.communicate(timeout=60)
    assert caller.returncode == 0, out[-2000:]
    assert rang_for >= 2.0, f"the first agent was given up after {rang_for:.1f} s, before the 2 s ring timeout"
    assert resting.uas.poll() is None, "an agent on Break was rung"
