"""Domain events across processes: every event published on this process's bus goes to a Redis
channel, and events from the other processes (web, pbx controller) are published here.

Used when ``CENTRALA_REDIS_URL`` is set (the docker-compose deployment runs web and the pbx
controller as separate processes); ``centrala run`` in one process does not need it.
"""
from __future__ import annotations

import json
import logging
import threading
import uuid

import redis

from agents.events import EventBus

log = logging.getLogger(__name__)
CHANNEL = "centrala:events"


class RedisBridge:
    def __init__(self, bus: EventBus, url: str, channel: str = CHANNEL):
        self.bus = bus
        self.channel = channel
        self.origin = uuid.uuid4().hex
        self.redis = redis.Redis.from_url(url)
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(channel)
        self._relaying = threading.local()
        self._stop = threading.Event()
        self._unsubscribe = bus.subscribe("*", self._outgoing)
        self._thread = threading.Thread(target=self._listen, name="event-bridge", daemon=True)
        self._thread.start()

    def _outgoing(self, event) -> None:
        if getattr(self._relaying, "active", False):
            return  # an event that came from another process: do not send it back
        try:
            self.redis.publish(self.channel, json.dumps(
                {"origin": self.origin, "name": event.name, "data": event.data}, default=str))
        except redis.RedisError as exc:
            log.warning("event %s not forwarded to Redis: %s", event.name, exc)

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self._pubsub.get_message(timeout=0.5)
            except redis.RedisError as exc:
                log.warning("Redis event bridge: %s", exc)
                self._stop.wait(1.0)
                continue
            if not msg:
                continue
            try:
                body = json.loads(msg["data"])
            except (ValueError, TypeError):
                continue
            if body.get("origin") == self.origin:
                continue
            self._relaying.active = True
            try:
                self.bus.publish(body["name"], **body.get("data", {}))
            finally:
                self._relaying.active = False

    def close(self) -> None:
        self._stop.set()
        self._unsubscribe()
        self._thread.join(2)
        self._pubsub.close()
        self.redis.close()
