"""Ending the calls in progress before Asterisk stops (``centrala run`` on SIGTERM or Ctrl-C).

Stopping Asterisk, or the controller, with calls up cuts them without their hang-up being
seen: History keeps them "in progress" until a later start closes them with the outage
counted as talk time.  So a stop first hangs up every channel through AMI — again and again
until the deadline, so a call arriving meanwhile is refused the same way — and waits until the
controller has recorded the end of each call it follows; only then are the controller and
Asterisk stopped.  Blocking: runs in the stopping thread, not on the controller's loop.
"""
from __future__ import annotations

import logging
import re
import time

from sqlalchemy import select

from centrala.models import Communication

from .amiprobe import AmiProbeError, ami_actions

log = logging.getLogger(__name__)
NORMAL_CLEARING = "16"   # Q.850 cause Asterisk reports for the hang-ups


def end_calls(controller, timeout: float = 15.0, poll: float = 0.1) -> int:
    """Hang up every call and wait until the controller has recorded each end; return the
    number of channels hung up.  Gives up (with a warning) after ``timeout`` seconds, or at once
    when Asterisk does not answer AMI (then there is nothing left to hang up)."""
    settings, db = controller.settings, controller.db
    secrets = settings.secrets
    ami = lambda actions: ami_actions("127.0.0.1", settings.ami_port, secrets.ami_user,  # noqa: E731
                                      secrets.ami_password, actions, timeout=5.0)
    deadline = time.monotonic() + timeout
    followed: set[int] = set()
    hung_up = 0
    while True:
        followed |= _followed_rows(controller)
        try:
            channels = _active_channels(ami)
            if channels:
                (resp,) = ami([{"Action": "Hangup", "Channel": "/.*/", "Cause": NORMAL_CLEARING}])
                hung_up += channels
                log.info("stopping: hung up %d channel(s) (%s)", channels, resp.get("Message", ""))
        except (OSError, AmiProbeError) as exc:
            log.warning("stopping: Asterisk does not answer AMI (%s); calls cannot be hung up", exc)
            return hung_up
        if not channels and _controller_idle(controller) and not _still_open(db, followed):
            return hung_up
        if time.monotonic() > deadline:
            log.warning("stopping: calls still open after %.0f s; Asterisk is stopped anyway", timeout)
            return hung_up
        time.sleep(poll)


def _active_channels(ami) -> int:
    (resp,) = ami([{"Action": "Command", "Command": "core show channels count"}])
    m = re.search(r"(\d+) active channels?", resp.get("Output", ""))
    return int(m.group(1)) if m else 0


def _followed_rows(controller) -> set[int]:
    """History rows of the calls the controller follows (inbound and click-to-call)."""
    rows = set()
    for table in (getattr(controller, "live", {}), getattr(controller, "outbound", {})):
        for entry in list(table.values()):
            if isinstance(entry, dict) and entry.get("comm_id") is not None:
                rows.add(entry["comm_id"])
    return rows


def _controller_idle(controller) -> bool:
    return not (len(getattr(controller, "calls", ())) or getattr(controller, "live", None)
                or getattr(controller, "outbound", None))


def _still_open(db, ids: set[int]) -> bool:
    if not ids:
        return False
    with db.session() as s:
        return s.scalar(select(Communication.id).where(Communication.id.in_(ids),
                                                       Communication.outcome == "in_progress").limit(1)) is not None
