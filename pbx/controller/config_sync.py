"""Keeping Asterisk in step with the database: agents' SIP accounts and the rest of the rendered
configuration (reloaded when it changed), queue membership from agents' status, trunks'
registrations at the carrier (VOI-1), softphone registrations (VOI-7), and the routing facts
inbound calls need, cached in memory between changes."""
from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import select

from agents import events
from agents.routing import AgentView, anyone_to_answer, desired_members, plan, queue_stats
from centrala import sip_accounts, telephony
from centrala.models import User, utcnow
from centrala.pbx_status import write_queue

from .. import render
from ..render import QUEUE
from .base import ControllerBase, short

log = logging.getLogger(__name__)


class ConfigSync(ControllerBase):
    async def _sync_loop(self) -> None:
        """Keep Asterisk in step with the database: agents' SIP accounts (config reload) and
        queue membership from their status.  Woken at once by status/user events in this
        process, and every ``sync_interval`` seconds for changes made by other processes."""
        while True:
            try:
                await asyncio.wait_for(self._sync_wanted.wait(), timeout=self.sync_interval)
            except asyncio.TimeoutError:
                pass
            self._sync_wanted.clear()
            if not self.ami_up:
                continue
            # The queue events of every call only refresh the live queue view (one QueueStatus);
            # membership and routing facts are read on a change or every sync_interval.
            if not (self._full_sync_wanted or time.monotonic() - self._last_full_sync >= self.sync_interval):
                try:
                    await self._queue_members()
                except Exception as exc:
                    log.warning("queue view failed: %s", short(exc))
                continue
            self._full_sync_wanted = False
            self._last_full_sync = time.monotonic()
            # Re-rendering costs ~15 ms of CPU: only when users/settings changed or on the periodic
            # pass (changes made by other processes), never for the queue events of every call.
            periodic = time.monotonic() - self._last_config >= self.sync_interval
            steps = [self._sync_queue, self._refresh_facts]
            if self._config_wanted or periodic:
                self._config_wanted = False
                self._last_config = time.monotonic()
                steps.insert(0, self._sync_config)
            if self._registry_seen or steps[0] == self._sync_config:
                self._registry_seen = False
                steps.append(self._sync_registrations)
            # independent steps: a configuration problem must not stop queue membership
            for step in steps:
                try:
                    await step()
                except Exception as exc:
                    log.warning("%s failed: %s", step.__name__.strip("_").replace("_", " "), short(exc))

    async def _sync_config(self) -> None:
        mod_dir = render.current_module_dir(self.settings)
        if mod_dir is None:
            return
        changed = await asyncio.to_thread(render.render_from_db, self.settings, mod_dir, self.db)
        names = {p.name for p in changed}
        commands = []
        if "pjsip.conf" in names:
            commands.append("module reload res_pjsip.so")
        if "extensions.conf" in names:
            commands.append("dialplan reload")
        if "queues.conf" in names:
            commands.append("queue reload parameters")
        if "musiconhold.conf" in names:
            commands.append("moh reload")
        for command in commands:
            await self._action({"Action": "Command", "Command": command})
        if commands:
            log.info("Asterisk configuration reloaded: %s", ", ".join(commands))

    # -- softphone registrations (VOI-7) ---------------------------------------------------
    def _on_contact_status(self, manager, event) -> None:
        aor = event.get("AOR")
        status = str(event.get("ContactStatus", "")).lower()
        contact = event.get("URI") if status in sip_accounts.REGISTERED else None
        if aor:
            asyncio.ensure_future(self._store_contact(aor, contact))

    async def _store_contact(self, aor: str, contact: str | None) -> None:
        user_id = await asyncio.to_thread(sip_accounts.set_contact, self.db, aor, contact)
        if user_id is not None:
            self.bus.publish(events.SIP_REGISTRATION_CHANGED, user_id=user_id, contact=contact)

    async def _resync_contacts(self) -> None:
        # as_list=None: with no contacts Asterisk answers a plain error, not an (empty) list
        resp = await self._action({"Action": "PJSIPShowContacts"}, as_list=None)
        msgs = resp if isinstance(resp, list) else [resp]
        contacts = {m.get("Aor"): m.get("Uri") for m in msgs
                    if m.get("Event") == "ContactList" and str(m.get("Status", "")).lower() != "unavailable"}
        for user_id in await asyncio.to_thread(sip_accounts.replace_all, self.db, contacts):
            self.bus.publish(events.SIP_REGISTRATION_CHANGED, user_id=user_id, contact=None)

    # -- trunks registering at the carrier (VOI-1) ----------------------------------------
    def _on_registry(self, manager, event) -> None:
        """A registration changed state: read them all on the next pass (at once)."""
        self._registry_seen = True
        self._request_sync()

    async def _sync_registrations(self) -> None:
        if not self.registrations and not render.configures_registrations(self.settings):
            return   # no trunk registers and none did: nothing to ask Asterisk every pass
        # as_list=None: with no registrations Asterisk answers a plain error, not an empty list
        resp = await self._action({"Action": "PJSIPShowRegistrationsOutbound"}, as_list=None)
        states = {}
        for m in resp if isinstance(resp, list) else [resp]:
            name = str(m.get("ObjectName") or "")
            if m.get("Event") == "OutboundRegistrationDetail" and name.startswith("trunk-") and name.endswith("-reg"):
                states[name[len("trunk-"):-len("-reg")]] = str(m.get("Status") or "")
        self.registrations = states
        changed = await asyncio.to_thread(telephony.store_registrations, self.db, states)
        if changed:
            log.info("trunk registrations: %s", ", ".join(f"{n} {states.get(n, '-')}" for n in changed))

    async def _forget_registrations(self) -> None:
        """Without AMI (Asterisk gone, or this controller stopping) nobody vouches for a
        registration: registering trunks are shown as not registered until seen again."""
        self.registrations = {}
        try:
            await asyncio.to_thread(telephony.store_registrations, self.db, {})
        except Exception as exc:
            log.warning("could not clear trunk registrations: %s", short(exc))

    # -- queue membership from agents' status ------------------------------------------------
    async def _queue_members(self) -> dict[str, bool]:
        resp = await self._action({"Action": "QueueStatus", "Queue": QUEUE}, as_list=True)
        msgs = [m for m in (resp if isinstance(resp, list) else [resp]) if m.get("Queue") == QUEUE]
        members = [m for m in msgs if m.get("Event") == "QueueMember"]
        stats = queue_stats(
            [{"number": m.get("CallerIDNum", ""), "wait": int(m.get("Wait") or 0)}
             for m in msgs if m.get("Event") == "QueueEntry"],
            [{"name": m.get("Name") or m.get("MemberName", ""), "paused": str(m.get("Paused")) == "1",
              "in_call": str(m.get("InCall")) == "1", "status": int(m.get("Status") or 0)} for m in members])
        if stats != self.queue:
            self.queue = stats
            await asyncio.to_thread(write_queue, self.db, {**stats, "at": utcnow().isoformat()})
        return {m.get("Location") or m.get("Interface"): str(m.get("Paused")) == "1" for m in members}

    async def _sync_queue(self) -> None:
        agents = await asyncio.to_thread(agent_views, self.db)
        current = await self._queue_members()
        todo = plan(current, desired_members(agents))
        for m in todo.add:
            await self._action({"Action": "QueueAdd", "Queue": QUEUE, "Interface": m.interface,
                                "MemberName": m.name, "StateInterface": m.interface,
                                "Paused": "true" if m.paused else "false"})
            if m.paused:
                await self._pause(m.interface, True, m.reason)
        for iface in todo.remove:
            await self._action({"Action": "QueueRemove", "Queue": QUEUE, "Interface": iface})
        for m in todo.pause:
            await self._pause(m.interface, m.paused, m.reason)
        if todo.add or todo.remove or todo.pause:
            self.members = await self._queue_members()
            self.bus.publish(events.QUEUE_MEMBERS_CHANGED, queue=QUEUE, members=dict(self.members))
        else:
            self.members = current

    async def _pause(self, interface: str, paused: bool, reason: str) -> None:
        await self._action({"Action": "QueuePause", "Queue": QUEUE, "Interface": interface,
                            "Paused": "true" if paused else "false", "Reason": reason})

    # -- routing facts for inbound calls -------------------------------------------------------
    def _load_facts(self):
        """What routing a call needs from the database (numbers, hours, switches, agents and their
        status), kept in memory until an event says it changed or ``sync_interval`` passes; runs
        in a thread.  Not stored if it was invalidated meanwhile."""
        generation, loaded_at = self._facts_generation, time.monotonic()
        # whether anyone could answer is worked out once per load, not for every call
        facts = (loaded_at, telephony.inbound_policy(self.db, self.settings), anyone_to_answer(agent_views(self.db)))
        if generation == self._facts_generation:
            self._facts = facts
        return facts

    def _forget_facts(self) -> None:
        self._facts_generation += 1
        self._facts = None

    async def _refresh_facts(self) -> None:
        """Every sync pass reloads the routing facts (changes made without an event, e.g. in the
        database directly, show within ``sync_interval``), so calls rarely wait for the database."""
        await asyncio.to_thread(self._load_facts)


def agent_views(db) -> list[AgentView]:
    """Every agent with a softphone, as routing sees them (runs in a thread)."""
    with db.engine.connect() as conn:    # five columns, no ORM objects: read every sync pass
        return [AgentView(u.sip_username, u.name, u.status, tuple(u.channels or ()), bool(u.active))
                for u in conn.execute(_AGENT_VIEWS)]


_AGENT_VIEWS = select(User.sip_username, User.name, User.status, User.channels, User.active).where(
    User.sip_username.is_not(None))
