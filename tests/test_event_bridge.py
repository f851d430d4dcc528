"""Domain events between processes through a real Redis server (docker-compose: web + pbx)."""
import shutil
import socket
import subprocess

import pytest

from agents import events
from agents.events import EventBus
from centrala.eventbridge import RedisBridge

from .helpers import EventRecorder, free_port, wait_for


@pytest.fixture
def redis_url(tmp_path):
    assert shutil.which("redis-server"), "redis-server is installed by scripts/bootstrap test"
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)

    def up():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    wait_for(up, 10, what="redis-server listening")
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


def test_events_cross_between_processes_once(redis_url):
    web_bus, pbx_bus = EventBus(), EventBus()
    web_seen, pbx_seen = EventRecorder(web_bus), EventRecorder(pbx_bus)
    a, b = RedisBridge(web_bus, redis_url), RedisBridge(pbx_bus, redis_url)
    try:
        web_bus.publish(events.CALL_REQUESTED, communication_id=7, number="+48600100200")
        got = pbx_seen.wait(events.CALL_REQUESTED, 5, communication_id=7)
        assert got.data["number"] == "+48600100200"
        pbx_bus.publish(events.AGENT_RINGING, user_id=3, call_id="c1", caller="48500", communication_id=7)
        web_seen.wait(events.AGENT_RINGING, 5, user_id=3)
        web_bus.publish(events.PBX_RESYNCED, link="marker")
        pbx_seen.wait(events.PBX_RESYNCED, 5, link="marker")
        # nothing echoes back to where it came from
        assert [e.name for e in web_seen.events].count(events.CALL_REQUESTED) == 1
        assert [e.name for e in pbx_seen.events].count(events.AGENT_RINGING) == 1
    finally:
        a.close()
        b.close()
