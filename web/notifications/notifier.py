"""One notifier for incoming work (INB-1, INB-4): a ringing call, an offered conversation of any
channel, a voicemail, a task — and the channels to come — reach the agents through here.

- ``Work``: what arrived, for whom, and how its drawer item reads (titled in each agent's language).
- ``notify(session, work)``: write the drawer items, commit, push them (and the badge) to the
  agents' panels.  ``stage``/``services.deliver`` split it for callers that commit the items with
  their own once-only claim (the task reminder sweeper).
- ``register(app)``: the one bus listener.  Domain events that mean incoming work become a
  ``Work`` here — ``call.agent_ringing`` (the call card rings: live, no drawer item) and
  ``call.voicemail`` (every agent serving inbound voice) today; a new channel's offers arrive
  through its offer engine calling ``notify`` with ``kind`` = the channel's key.
The same events feed the outgoing webhooks (``web/webhooks/worker.py``), which subscribe to the
names offered in ``centrala/webhooks.py``.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Sequence

from flask import has_request_context
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from agents import conversation, events
from centrala.channels import registry
from centrala.models import User

from . import services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Work:
    kind: str                              # one of agents.conversation.DRAWER_KINDS
    user_ids: Sequence[int]
    title: Callable[[], str]               # called once per agent, in the agent's language
    link: str = ""
    body: Callable[[], str] = field(default=lambda: "")

    def __post_init__(self):
        if self.kind not in conversation.DRAWER_KINDS:
            raise ValueError(f"unknown kind of work {self.kind!r}")


@contextmanager
def in_language(app, language: str | None):
    """Texts in an agent's language, also from a bus handler or a background loop."""
    if has_request_context():
        with force_locale(language or "pl"):
            yield
    else:
        with app.test_request_context(), force_locale(language or "pl"):
            yield


def stage(app, session, work: Work) -> list:
    """The drawer items of ``work`` added to the session, uncommitted (active agents only)."""
    items = []
    for user in session.scalars(select(User).where(User.id.in_(list(work.user_ids)), User.active.is_(True))):
        with in_language(app, user.language):
            title, body = work.title(), work.body()
        items += services.create(session, [user.id], work.kind, title, body, work.link)
    return items


def notify(app, session, work: Work) -> list:
    """Write the drawer items, commit, and push them to the agents' open panels."""
    items = stage(app, session, work)
    session.commit()
    services.deliver(session, items)
    return items


def serving(session, channel: str) -> list[int]:
    """Active agents with the skill that is offered the channel's inbound work."""
    skill = registry.get(channel).inbound_skill
    return [u.id for u in session.scalars(select(User).where(User.active.is_(True))) if skill in (u.channels or [])]


def register(app) -> None:
    """The one listener: incoming-work events → drawer items and pushes."""
    sio = app.extensions["socketio"]
    bus = app.extensions["centrala.bus"]
    db = app.extensions["centrala.db"]

    def contact_of(number: str) -> dict | None:
        """The caller's contact (VOI-2: caller id matched to a contact), by any form of the number."""
        if not number:
            return None
        from centrala.account import default_region
        from centrala.contacts import find_by_phone

        s = db.sessions()
        try:
            c = find_by_phone(s, number, default_region(s, app.extensions["centrala.settings"]))
            return {"id": c.id, "name": c.display_name} if c else None
        except Exception:
            log.exception("contact lookup for %s failed", number)
            return None
        finally:
            s.close()

    def ringing(event):
        """A call rings an agent's phone: the call card rings in their panel (live only)."""
        d = event.data
        sio.emit("call", {"state": "ringing", "call_id": d["call_id"], "caller": d.get("caller", ""),
                          "communication_id": d.get("communication_id"), "contact": contact_of(d.get("caller", ""))},
                 to=f"user:{d['user_id']}", namespace=services.NAMESPACE)

    def voicemail(event):
        """Every agent serving inbound voice finds the message in the drawer (now or when back)."""
        caller = event.data.get("caller")
        with app.app_context():
            s = db.sessions()
            try:
                notify(app, s, Work(conversation.VOICEMAIL, serving(s, conversation.VOICE),
                                    title=lambda: _("Voicemail from %(caller)s", caller=caller or _("unknown number")),
                                    link=f"/history/{event.data['communication_id']}"))
            except Exception:
                log.exception("voicemail notification failed")
            finally:
                s.close()

    bus.subscribe(events.AGENT_RINGING, ringing)
    bus.subscribe(events.VOICEMAIL_RECEIVED, voicemail)
