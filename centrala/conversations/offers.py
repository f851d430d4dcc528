"""The offer engine of text conversations (issue 11): offers and pending transfers, in the database.

One row per conversation in ``conversation_offers`` (``centrala/models_offers.py``), reused by its
first offer and by each transfer.  Every change of an open row is claimed with one conditional
UPDATE — ``… WHERE id = :id AND version = :seen AND state = 'open'`` for the sweep and the owner's
actions, ``… WHERE state = 'open' AND agent_id = :me`` for an accept — as the webhook worker claims
its deliveries: of two web processes acting on one row at once exactly one changes it, and only
that one tells the agents (the channel's presenter) and publishes the ``conversation.*`` event.

- ``offer``: a new waiting conversation goes to the first eligible agent (agents/offers.py); the
  row's unique ``communication_id`` makes a second offer of it impossible.
- ``sweep``: rows whose deadline passed move on (the next agent, a new round, or — for a transfer
  nobody took — withdrawn, the owner keeps it).  Run by a background loop in every web process;
  a restarted process simply carries on from the rows.
- ``accept``: once only; the agent must still be Online and serve the channel.
- ``start_transfer`` / ``cancel_transfer``, ``agent_left`` (Break/Offline: their offers move on at
  the next sweep), ``conversation_ended`` (closed or abandoned: the offer is taken back).

Channels plug in a presenter (``ChannelPresenter``) for what the agents see: the drawer item, the
panel's events, the customer's "joined" line.  The presenter runs after the commit, in the
process that won the claim.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Callable, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from agents import conversation, events
from agents import offers as rules
from agents.offers import OfferAgent
from centrala.conversations import lifecycle
from centrala.models import Communication, User
from centrala.models_offers import ConversationOffer

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT = 30.0


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without their zone (they were stored in UTC)."""
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def skill_of(channel: str) -> str:
    """The skill an agent needs for a text channel: its key (agents/channels.py lists both)."""
    return channel


@dataclass(frozen=True)
class OfferView:
    """A snapshot of one offer row (what presenters and panels read; no ORM object leaves here)."""
    id: int
    communication_id: int
    channel: str
    kind: str
    state: str
    agent_id: int | None
    from_agent_id: int | None
    anyone: bool
    note: str
    tried: tuple[int, ...]
    deadline: datetime
    notification_id: int | None
    version: int

    @classmethod
    def of(cls, row: ConversationOffer) -> "OfferView":
        return cls(row.id, row.communication_id, row.channel, row.kind, row.state, row.agent_id,
                   row.from_agent_id, bool(row.anyone), row.note or "", tuple(row.tried or ()),
                   _aware(row.deadline), row.notification_id, row.version)


@dataclass(frozen=True)
class Result:
    """A use case's answer: ``ok`` or a stable ``error`` code (``field`` for an input error)."""
    ok: bool
    error: str | None = None
    field: str | None = None
    offer: OfferView | None = None

    def as_dict(self) -> dict:
        if self.ok:
            return {"ok": True}
        return {"ok": False, "error": self.error, **({"field": self.field} if self.field else {})}


class ChannelPresenter(Protocol):
    """What a channel shows its agents and customer when an offer changes (web adapters)."""

    def timeout(self, session) -> float: ...

    def offered(self, session, offer: OfferView) -> int | None:
        """The offer reached ``offer.agent_id``: their drawer item's id (or None)."""

    def withdrawn(self, session, offer: OfferView, reason: str, final: bool) -> None:
        """The offer to ``offer.agent_id`` ended unaccepted; ``final``: nobody else is offered it."""

    def accepted(self, session, offer: OfferView) -> None: ...

    def transferred(self, session, offer: OfferView) -> None: ...


class SilentPresenter:
    """A channel without panel side effects (and the engine's unit tests)."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT):
        self._timeout = timeout

    def timeout(self, session) -> float:
        return self._timeout

    def offered(self, session, offer):
        return None

    def withdrawn(self, session, offer, reason, final):
        return None

    def accepted(self, session, offer):
        return None

    def transferred(self, session, offer):
        return None


# -- queries (no side effects) -------------------------------------------------------------
def channel_agents(session, channel: str) -> list[OfferAgent]:
    """Active agents with their status, skills and open conversations of ``channel``."""
    counts = dict(session.execute(
        select(Communication.agent_id, func.count()).where(
            Communication.channel == channel, Communication.ended_at.is_(None),
            Communication.agent_id.is_not(None)).group_by(Communication.agent_id)).all())
    return [OfferAgent(u.id, u.status, tuple(u.channels or ()), bool(u.active), counts.get(u.id, 0))
            for u in session.scalars(select(User).where(User.active.is_(True)))]


def candidates(session, channel: str) -> list[int]:
    """The agents who may be offered a conversation of ``channel`` now, in offer order."""
    return rules.eligible(channel_agents(session, channel), skill_of(channel))


def offer_agent(session, user_id) -> OfferAgent | None:
    u = session.get(User, user_id) if isinstance(user_id, int) and not isinstance(user_id, bool) else None
    return OfferAgent(u.id, u.status, tuple(u.channels or ()), bool(u.active)) if u else None


def open_offer(session, communication_id: int) -> OfferView | None:
    row = session.scalar(select(ConversationOffer).where(ConversationOffer.communication_id == communication_id,
                                                         ConversationOffer.state == rules.OPEN))
    return OfferView.of(row) if row is not None else None


def offers_for(session, agent_id: int, channel: str | None = None, kind: str | None = None) -> list[OfferView]:
    """What is offered to ``agent_id`` right now (oldest first)."""
    q = select(ConversationOffer).where(ConversationOffer.agent_id == agent_id, ConversationOffer.state == rules.OPEN)
    if channel:
        q = q.where(ConversationOffer.channel == channel)
    if kind:
        q = q.where(ConversationOffer.kind == kind)
    return [OfferView.of(r) for r in session.scalars(q.order_by(ConversationOffer.communication_id))]


def open_offers(session, channel: str, kind: str = rules.OFFER) -> list[OfferView]:
    q = select(ConversationOffer).where(ConversationOffer.channel == channel, ConversationOffer.kind == kind,
                                        ConversationOffer.state == rules.OPEN)
    return [OfferView.of(r) for r in session.scalars(q.order_by(ConversationOffer.communication_id))]


# -- use cases -------------------------------------------------------------------------------
class OfferEngine:
    """Offers and transfers of text conversations.  ``clock`` is injectable (tests)."""

    def __init__(self, bus, clock: Callable[[], datetime] = utc_now):
        self.bus = bus
        self.clock = clock
        self.presenters: dict[str, ChannelPresenter] = {}

    def register(self, channel: str, presenter: ChannelPresenter) -> None:
        self.presenters[channel] = presenter

    def presenter(self, channel: str) -> ChannelPresenter:
        return self.presenters.get(channel) or SilentPresenter()

    def _serving(self, session, communication_id: int, channel: str, eligible: list[int]) -> list[int]:
        """The eligible agents narrowed by the channel to those who serve this conversation
        (email: the agents of its shared mailbox), when the presenter says so."""
        narrow = getattr(self.presenter(channel), "serving", None)
        allowed = narrow(session, communication_id) if narrow is not None else None
        return eligible if allowed is None else [a for a in eligible if a in allowed]

    def _deadline(self, session, channel: str, now: datetime) -> datetime:
        return now + timedelta(seconds=float(self.presenter(channel).timeout(session)))

    # -- offering ------------------------------------------------------------------------------
    def offer(self, session, communication_id: int) -> OfferView | None:
        """Start offering a new waiting conversation (the caller committed it).  None when it
        is offered already (by this or another process)."""
        c = session.get(Communication, communication_id)
        if c is None or c.ended_at is not None or c.agent_id is not None:
            return None
        now = self.clock()
        aid, tried = rules.rollover(self._serving(session, c.id, c.channel, candidates(session, c.channel)), [])
        row = ConversationOffer(communication_id=c.id, channel=c.channel, kind=rules.OFFER, state=rules.OPEN,
                                agent_id=aid, tried=tried, note="", anyone=False, version=0,
                                deadline=self._deadline(session, c.channel, now) if aid is not None else now)
        session.add(row)
        self._ring(c, aid)
        try:
            session.commit()
        except IntegrityError:          # another process offered it first: theirs stands
            session.rollback()
            return None
        view = OfferView.of(row)
        self._offered(session, view)
        return view

    def offer_waiting(self, session, channel: str) -> list[int]:
        """Conversations of ``channel`` still waiting with no offer row (e.g. opened while no web
        process ran the engine): offer them, oldest first.  Rows that exist carry on by the sweep."""
        offered = select(ConversationOffer.communication_id)
        ids = list(session.scalars(select(Communication.id).where(
            Communication.channel == channel, Communication.agent_id.is_(None), Communication.ended_at.is_(None),
            Communication.outcome == "in_progress", Communication.id.not_in(offered)).order_by(Communication.id)))
        session.rollback()
        return [cid for cid in ids if self.offer(session, cid) is not None]

    def sweep(self, session) -> int:
        """Move on every open offer whose deadline passed (oldest conversation first).  Returns
        how many this call changed; rows another process changed meanwhile are left to it.
        The eligible agents are read once per channel and pass (an offer does not make anyone
        busier); a conversation waiting for someone to come Online costs nothing while nobody is."""
        now = self.clock()
        due = session.execute(select(ConversationOffer.id, ConversationOffer.channel, ConversationOffer.kind,
                                     ConversationOffer.agent_id)
                              .where(ConversationOffer.state == rules.OPEN, ConversationOffer.deadline <= now)
                              .order_by(ConversationOffer.communication_id)).all()
        known: dict[str, list[int]] = {}

        def eligible_now(channel: str) -> list[int]:
            if channel not in known:
                known[channel] = candidates(session, channel)
            return known[channel]

        session.rollback()
        changed = 0
        for oid, channel, kind, agent_id in due:
            if kind == rules.OFFER and agent_id is None and not eligible_now(channel):
                continue
            try:
                changed += self._advance(session, oid, now, eligible_now)
            except Exception:
                session.rollback()
                log.exception("offer %s not moved on", oid)
        return changed

    def _advance(self, session, offer_id: int, now: datetime, eligible_now: Callable[[str], list[int]]) -> int:
        row = session.get(ConversationOffer, offer_id, populate_existing=True)
        if row is None or row.state != rules.OPEN or _aware(row.deadline) > now:
            session.rollback()
            return 0
        before = OfferView.of(row)
        c = session.get(Communication, row.communication_id, populate_existing=True)
        if row.kind == rules.OFFER:
            if c is None or c.ended_at is not None or c.agent_id is not None:
                return self._close(session, before, rules.CLOSED, rules.ENDED)
            aid, tried = rules.rollover(self._serving(session, row.communication_id, row.channel,
                                                      eligible_now(row.channel)), list(before.tried))
            if aid is None and before.agent_id is None:
                session.rollback()            # still nobody Online: look again next time
                return 0
            values = {"agent_id": aid, "tried": tried,
                      "deadline": self._deadline(session, row.channel, now) if aid is not None else now}
            reason = rules.withdrawal_reason(anyone=False, target=offer_agent(session, before.agent_id))
        else:
            if c is None or c.ended_at is not None or c.agent_id != before.from_agent_id:
                return self._close(session, before, rules.CLOSED, rules.ENDED)
            others = eligible_now(row.channel) if before.anyone else []
            aid = rules.next_colleague(others, list(before.tried), before.from_agent_id)
            reason = rules.withdrawal_reason(anyone=before.anyone, target=offer_agent(session, before.agent_id))
            if aid is None:
                return self._close(session, before, rules.WITHDRAWN, reason)
            values = {"agent_id": aid, "tried": list(before.tried) + [aid],
                      "deadline": self._deadline(session, row.channel, now)}
        if not self._claim(session, before, notification_id=None, **values):
            return 0
        self._ring(c, aid)
        session.commit()
        if before.agent_id is not None:
            self._withdrawn(session, before, reason, final=False)
        if aid is not None:
            self._offered(session, OfferView.of(session.get(ConversationOffer, offer_id)))
        return 1

    def _claim(self, session, seen: OfferView, **values) -> bool:
        """Change the row only if nobody did since ``seen`` was read: the one conditional UPDATE."""
        done = session.execute(
            update(ConversationOffer)
            .where(ConversationOffer.id == seen.id, ConversationOffer.version == seen.version,
                   ConversationOffer.state == rules.OPEN)
            .values(version=ConversationOffer.version + 1, updated_at=self.clock(), **values)
            .execution_options(synchronize_session=False)).rowcount
        if done != 1:
            session.rollback()
            return False
        session.expire_all()
        return True

    def _close(self, session, seen: OfferView, state: str, reason: str,
               with_claim: Callable[[object], None] | None = None) -> int:
        if not self._claim(session, seen, state=state):
            return 0
        if with_claim is not None:      # e.g. the chat closed as missed: in the claim's transaction
            with_claim(session)
        lifecycle.commit(session, self.bus)
        if seen.agent_id is not None:
            self._withdrawn(session, seen, reason, final=True)
        return 1

    @staticmethod
    def _ring(c: Communication | None, agent_id: int | None) -> None:
        """History's "agents offered" list (HIS: who was rung/offered)."""
        if c is not None and agent_id is not None and agent_id not in (c.agents_rung or []):
            c.agents_rung = list(c.agents_rung or []) + [agent_id]

    def _offered(self, session, view: OfferView) -> None:
        try:
            nid = self.presenter(view.channel).offered(session, view)
        except Exception:
            session.rollback()
            log.exception("offer of %s to %s not shown", view.communication_id, view.agent_id)
            nid = None
        if nid is not None:
            kept = session.execute(
                update(ConversationOffer).where(ConversationOffer.id == view.id, ConversationOffer.version == view.version,
                                                ConversationOffer.state == rules.OPEN)
                .values(notification_id=nid).execution_options(synchronize_session=False)).rowcount
            session.commit()
            if kept != 1:     # moved on while the drawer item was written: take it back at once
                self.presenter(view.channel).withdrawn(session, replace(view, notification_id=nid), rules.TIMEOUT,
                                                       final=False)
        self.bus.publish(events.CONVERSATION_OFFERED, communication_id=view.communication_id, channel=view.channel,
                         kind=view.kind, user_id=view.agent_id, from_user_id=view.from_agent_id)

    def _withdrawn(self, session, view: OfferView, reason: str, final: bool) -> None:
        try:
            self.presenter(view.channel).withdrawn(session, view, reason, final)
        except Exception:
            session.rollback()
            log.exception("withdrawal of the offer of %s not shown", view.communication_id)
        self.bus.publish(events.CONVERSATION_OFFER_WITHDRAWN, communication_id=view.communication_id,
                         channel=view.channel, kind=view.kind, user_id=view.agent_id, reason=reason, final=final)

    # -- accepting -------------------------------------------------------------------------------
    def accept(self, session, communication_id: int, agent_id: int) -> Result:
        """The offered agent takes the conversation (a waiting one, or one a colleague hands
        over).  Once only: of two accepts at once, one wins and the other is told "taken"."""
        c = session.get(Communication, communication_id)
        if c is None:
            return Result(False, "not_found")
        view = open_offer(session, communication_id)
        if c.agent_id == agent_id and c.ended_at is None and (view is None or view.agent_id != agent_id):
            return Result(True)                    # already theirs (a second click, another tab)
        if view is None or view.agent_id != agent_id or c.ended_at is not None:
            session.rollback()
            # the two reads above may straddle another process's accept (SQLite reads outside a
            # transaction): read the row again before telling the agent it is taken
            mine = session.get(Communication, communication_id, populate_existing=True)
            if mine is not None and mine.agent_id == agent_id and mine.ended_at is None:
                return Result(True)                # the same agent's other click won (another tab)
            return Result(False, "taken")
        if not rules.serves(offer_agent(session, agent_id), skill_of(view.channel)):
            session.rollback()
            return Result(False, "unavailable")
        now = self.clock()
        guard = [ConversationOffer.id == view.id, ConversationOffer.state == rules.OPEN,
                 ConversationOffer.agent_id == agent_id]
        if view.kind == rules.TRANSFER:
            guard.append(ConversationOffer.deadline > now)
            moved = (Communication.agent_id == view.from_agent_id,)
            change = {"agent_id": agent_id}
        else:
            moved = (Communication.agent_id.is_(None),)
            wait = conversation.seconds_between(c.started_at, now)
            change = {"agent_id": agent_id, "answered_at": now, "wait_seconds": wait}
        won = session.execute(update(ConversationOffer).where(*guard)
                              .values(state=rules.ACCEPTED, version=ConversationOffer.version + 1, updated_at=now)
                              .execution_options(synchronize_session=False)).rowcount
        took = won == 1 and session.execute(
            update(Communication).where(Communication.id == c.id, Communication.ended_at.is_(None), *moved)
            .values(**change).execution_options(synchronize_session=False)).rowcount == 1
        if not took:
            session.rollback()
            mine = session.get(Communication, c.id, populate_existing=True)
            if view.kind == rules.OFFER and mine is not None and mine.agent_id == agent_id:
                return Result(True)                # the same agent's other click won (another tab)
            return Result(False, "taken")
        session.commit()
        # what the guarded UPDATE wrote, kept on the loaded conversation instead of expiring the
        # session: the presenter then reads nothing again (the conversation, its customer, the
        # agent); only the offer row is read back (its drawer item may have been noted meanwhile)
        for name, value in change.items():
            set_committed_value(c, name, value)
        done = OfferView.of(session.get(ConversationOffer, view.id, populate_existing=True))
        presenter = self.presenter(view.channel)
        if view.kind == rules.TRANSFER:
            presenter.transferred(session, done)
            self.bus.publish(events.CONVERSATION_TRANSFERRED, communication_id=c.id, channel=view.channel,
                             from_user_id=view.from_agent_id, to_user_id=agent_id)
        else:
            presenter.accepted(session, done)
            self.bus.publish(events.CONVERSATION_ACCEPTED, communication_id=c.id, channel=view.channel,
                             user_id=agent_id, wait_seconds=change["wait_seconds"])
        return Result(True, offer=done)

    # -- transfers --------------------------------------------------------------------------------
    def start_transfer(self, session, communication_id: int, by: int, *, target=None, anyone: bool = False,
                       note=None) -> Result:
        """The owner offers the conversation to ``target`` (a user id) or to anyone available."""
        c = session.get(Communication, communication_id)
        if c is None:
            return Result(False, "not_found")
        channel, now = c.channel, self.clock()
        others = candidates(session, channel)
        row = session.scalar(select(ConversationOffer).where(ConversationOffer.communication_id == c.id))
        colleague = None if anyone else offer_agent(session, target)
        code = rules.transfer_refusal(ended=c.ended_at is not None, owner=c.agent_id, by=by, skill=skill_of(channel),
                                      target=colleague, anyone=anyone, others=others,
                                      pending=row is not None and row.state == rules.OPEN)
        if code:
            session.rollback()
            return Result(False, code)
        try:
            note = rules.clean_transfer_note(note)
        except rules.InputError as exc:
            session.rollback()
            return Result(False, exc.code, exc.field)
        aid = rules.next_colleague(others, [], by) if anyone else colleague.id
        values = {"kind": rules.TRANSFER, "state": rules.OPEN, "agent_id": aid, "from_agent_id": by,
                  "anyone": anyone, "note": note, "tried": [aid], "deadline": self._deadline(session, channel, now),
                  "notification_id": None}
        if row is None:
            session.add(ConversationOffer(communication_id=c.id, channel=channel, version=0, **values))
        else:
            seen = OfferView.of(row)
            won = session.execute(
                update(ConversationOffer)
                .where(ConversationOffer.id == seen.id, ConversationOffer.version == seen.version,
                       ConversationOffer.state != rules.OPEN)
                .values(version=ConversationOffer.version + 1, updated_at=now, **values)
                .execution_options(synchronize_session=False)).rowcount
            if won != 1:
                session.rollback()
                return Result(False, "pending")
        self._ring(c, aid)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return Result(False, "pending")
        session.expire_all()
        view = open_offer(session, c.id)
        self._offered(session, view)
        return Result(True, offer=view)

    def cancel_transfer(self, session, communication_id: int, by: int) -> Result:
        """The owner withdraws their pending transfer."""
        view = open_offer(session, communication_id)
        if view is None or view.kind != rules.TRANSFER or view.from_agent_id != by:
            session.rollback()
            return Result(False, "not_pending")
        if not self._close(session, view, rules.WITHDRAWN, rules.CANCELLED):
            return Result(False, "not_pending")
        return Result(True, offer=view)

    # -- the conversation or the agent changed ------------------------------------------------------
    def conversation_ended(self, session, communication_id: int,
                           with_claim: Callable[[object], None] | None = None) -> bool:
        """The conversation closed (or the customer left): its open offer is taken back.  True
        when this call ended it.  ``with_claim(session)`` runs in the same transaction as the
        claim (e.g. record a missed chat), so nobody sees the offer gone and the chat still open;
        what it announces is published after the commit."""
        view = open_offer(session, communication_id)
        if view is None:
            session.rollback()
            return False
        return bool(self._close(session, view, rules.CLOSED, rules.ENDED, with_claim))

    def agent_left(self, session, agent_id: int) -> int:
        """The agent went on Break or Offline: their open offers move on at the next sweep."""
        n = session.execute(update(ConversationOffer).where(
            ConversationOffer.agent_id == agent_id, ConversationOffer.state == rules.OPEN)
            .values(deadline=self.clock() - timedelta(seconds=1))
            .execution_options(synchronize_session=False)).rowcount
        session.commit()
        return n
