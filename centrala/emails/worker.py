"""The mail worker: one IMAP connection per enabled mailbox, all on one asyncio event loop.

Per mailbox (``_serve``): connect (state ``connecting``), SELECT INBOX, compare UIDVALIDITY with the
one kept (changed: the UIDs mean other messages now, so it syncs from the start again — the
per-mailbox dedup keeps anything from arriving twice), fetch every UID above ``last_uid`` in
batches with BODY.PEEK[] (mail stays on the server, unread), hand each to
``inbound.receive``, keep ``last_uid`` after each batch; then IDLE, re-issued every
``mail_idle_seconds`` (≤ 25 min, before servers drop it at 29-30 min), or poll every
``mail_poll_seconds`` where the server has no IDLE.  Any failure: state ``error`` with the reason
in ``last_error`` (the same sentences as Test connection), a new try after a back-off doubling up
to 5 minutes.  A mailbox switched off gets state ``disabled``; one whose connection settings change
is reconnected (seen within ``rescan_seconds``, at once on ``settings.changed`` area "email").

Database work runs on a small thread pool (``db_threads``): 50 mailboxes are 50 coroutines and a
few threads, not 50 threads.  ``MailWorker.start()`` runs the loop in one thread (``centrala
run``); ``centrala mail worker`` runs it in its own process.  Exactly one worker should serve a
mailbox: set ``CENTRALA_MAIL_WORKER=0`` for ``centrala run`` when a separate process receives
mail (issue 17 makes this a lease per mailbox).
"""
from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select, update

from centrala.models import utcnow
from centrala.models_email import CONNECTED, CONNECTING, DISABLED, ERROR, Mailbox

from . import inbound
from .connect import Endpoint, MailConnectError
from .imap_async import ImapClient

log = logging.getLogger(__name__)
BATCH = 25                 # messages per UID FETCH (memory stays flat whatever the mailbox holds)
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 300.0
MAX_IDLE_SECONDS = 25 * 60


def endpoint_of(session, mailbox: Mailbox, settings) -> Endpoint:
    """The mailbox's IMAP endpoint, password opened or OAuth2 token refreshed (the caller commits)."""
    from centrala.emails import mailboxes

    return mailboxes.endpoint(session, mailbox, "imap", settings)


def _fingerprint(mb: Mailbox) -> tuple:
    """What, when it changes, needs a new connection."""
    return (mb.imap_host, mb.imap_port, mb.imap_security, mb.username, mb.password_sealed, mb.auth,
            mb.oauth_sealed)


class MailWorker:
    def __init__(self, database, settings, bus, *, idle_seconds: float | None = None,
                 poll_seconds: float | None = None, rescan_seconds: float = 5.0, backoff_max: float = BACKOFF_MAX,
                 batch: int = BATCH, db_threads: int = 4, use_idle: bool = True):
        self.database, self.settings, self.bus = database, settings, bus
        self.idle_seconds = min(float(idle_seconds or settings.mail_idle_seconds), MAX_IDLE_SECONDS)
        self.poll_seconds = float(poll_seconds or settings.mail_poll_seconds)
        self.rescan_seconds, self.backoff_max, self.batch = rescan_seconds, backoff_max, batch
        self.use_idle = use_idle                # False: poll even where the server has IDLE
        self.ctx = inbound.Context.for_settings(settings, bus)
        self._pool = ThreadPoolExecutor(max_workers=db_threads, thread_name_prefix="mail-db")
        self._tasks: dict[int, tuple[tuple, asyncio.Task]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()          # the loop runs (tests, the runner)
        self.scans = 0                          # looks at the mailboxes done (tests)
        if hasattr(bus, "subscribe"):           # Settings / Email changed a mailbox: look now
            from agents.events import SETTINGS_CHANGED

            bus.subscribe(SETTINGS_CHANGED, lambda e: e.data.get("area") == "email" and self.wake())

    # -- running -------------------------------------------------------------------------------
    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._rescanning = asyncio.Lock()
        self.ready.set()
        try:
            while not self._stop.is_set():
                try:
                    await self._rescan()
                except Exception:
                    log.exception("mail worker: reading the mailboxes failed")
                try:
                    await asyncio.wait_for(self._stop.wait(), self.rescan_seconds)
                except asyncio.TimeoutError:
                    pass
        finally:
            for _, task in self._tasks.values():
                task.cancel()
            await asyncio.gather(*(t for _, t in self._tasks.values()), return_exceptions=True)
            self._tasks.clear()
            self._pool.shutdown(wait=True)

    def start(self) -> "MailWorker":
        """Run in a thread of its own (one event loop for every mailbox)."""
        self._thread = threading.Thread(target=lambda: asyncio.run(self.run()), name="mail-worker", daemon=True)
        self._thread.start()
        self.ready.wait(10)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None:
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:       # the loop has ended already
                pass
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """Look at the mailboxes now (a mailbox was added or changed)."""
        if self._loop is not None and not self._loop.is_closed() and not self._stop.is_set():
            try:
                self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._rescan()))
            except RuntimeError:       # stopped meanwhile
                pass

    async def _db(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # -- which mailboxes ---------------------------------------------------------------------------
    def _mailboxes(self) -> dict[int, tuple]:
        with self.database.session() as s:
            return {mb.id: (mb.enabled, _fingerprint(mb)) for mb in s.scalars(select(Mailbox))}

    async def _rescan(self) -> None:
        async with self._rescanning:
            await self._rescan_now()
            self.scans += 1

    async def _rescan_now(self) -> None:
        boxes = await self._db(self._mailboxes)
        for mid, (fp, task) in list(self._tasks.items()):
            gone = mid not in boxes or not boxes[mid][0]
            if gone or boxes[mid][1] != fp or task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                del self._tasks[mid]
                if mid in boxes and gone:
                    await self._db(self._set_state, mid, DISABLED, "")
        for mid, (enabled, fp) in boxes.items():
            if enabled and mid not in self._tasks and not self._stop.is_set():
                self._tasks[mid] = (fp, asyncio.create_task(self._serve(mid), name=f"mailbox-{mid}"))

    # -- one mailbox -------------------------------------------------------------------------------
    async def _serve(self, mailbox_id: int) -> None:
        failures = 0
        while True:
            client = None
            try:
                await self._db(self._set_state, mailbox_id, CONNECTING, "")
                ep = await self._db(self._endpoint, mailbox_id)
                client = await ImapClient.open(ep)
                info = await client.select("INBOX")
                last = await self._db(self._validity, mailbox_id, info["uidvalidity"])
                await self._db(self._set_state, mailbox_id, CONNECTED, "")
                failures = 0
                idle = self.use_idle and "IDLE" in client.capabilities
                while True:
                    last = await self._sync(client, mailbox_id, last)
                    if idle:
                        await client.idle(self.idle_seconds)
                    else:
                        await asyncio.sleep(self.poll_seconds)
                        await client.noop()
            except asyncio.CancelledError:
                if client is not None:
                    await client.logout()
                raise
            except MailConnectError as exc:
                failures += 1
                await self._failed(mailbox_id, f"{exc.message} ({exc.detail})" if exc.detail else exc.message)
            except Exception as exc:
                failures += 1
                log.warning("mailbox %s: %s", mailbox_id, exc, exc_info=not isinstance(exc, (OSError, asyncio.TimeoutError)))
                await self._failed(mailbox_id, _describe(exc))
            finally:
                if client is not None:
                    client.abort()
            await asyncio.sleep(min(self.backoff_max, BACKOFF_FIRST * 2 ** (failures - 1)))

    async def _failed(self, mailbox_id: int, why: str) -> None:
        try:
            await self._db(self._set_state, mailbox_id, ERROR, why)
        except Exception:
            if not self._stop.is_set():       # stopping: the pool is gone, and so is the worker
                log.exception("mailbox %s: state not kept", mailbox_id)

    async def _sync(self, client: ImapClient, mailbox_id: int, last: int) -> int:
        """Fetch and keep everything above ``last`` (batch by batch); the new ``last_uid``."""
        uids = await client.uids_after(last)
        for i in range(0, len(uids), self.batch):
            for uid, raw in await client.fetch(uids[i:i + self.batch]):
                await self._db(self._receive, mailbox_id, uid, raw)
            last = max(last, uids[min(i + self.batch, len(uids)) - 1])
            await self._db(self._keep_uid, mailbox_id, last)
        return last

    # -- database work (runs on the pool) --------------------------------------------------------
    def _endpoint(self, mailbox_id: int) -> Endpoint:
        with self.database.session() as s:
            return endpoint_of(s, s.get(Mailbox, mailbox_id), self.settings)

    def _validity(self, mailbox_id: int, uidvalidity: int | None) -> int:
        """The UID to continue after: ``last_uid``, or 0 when UIDVALIDITY is new or changed."""
        with self.database.session() as s:
            mb = s.get(Mailbox, mailbox_id)
            if uidvalidity is not None and mb.uidvalidity != uidvalidity:
                if mb.uidvalidity is not None:
                    log.warning("mailbox %s: UIDVALIDITY %s -> %s, syncing again", mailbox_id, mb.uidvalidity,
                                uidvalidity)
                self._write(s, mailbox_id, uidvalidity=uidvalidity, last_uid=0)
                return 0
            return int(mb.last_uid or 0)

    def _receive(self, mailbox_id: int, uid: int, raw: bytes) -> None:
        with self.database.session() as s:
            inbound.receive(s, s.get(Mailbox, mailbox_id), raw, uid, self.ctx)

    def _keep_uid(self, mailbox_id: int, last: int) -> None:
        with self.database.session() as s:
            self._write(s, mailbox_id, last_uid=last)

    def _set_state(self, mailbox_id: int, state: str, why: str) -> None:
        with self.database.session() as s:
            self._write(s, mailbox_id, state=state, last_error=why[:2000], state_at=utcnow())

    @staticmethod
    def _write(session, mailbox_id: int, **values) -> None:
        """Change the worker's columns without touching ``updated_at`` (the administrator's)."""
        session.execute(update(Mailbox).where(Mailbox.id == mailbox_id)
                        .values(updated_at=Mailbox.updated_at, **values))
        session.commit()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "The server did not answer in time."
    if isinstance(exc, (ConnectionError, EOFError, asyncio.IncompleteReadError)):
        return f"The connection was lost ({exc or exc.__class__.__name__})."
    return f"{exc.__class__.__name__}: {exc}"


def run_forever(settings, database, bus) -> None:
    """``centrala mail worker``: serve every mailbox until SIGINT/SIGTERM."""
    import signal

    worker = MailWorker(database, settings, bus)

    async def main():
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(worker.run())
        while worker._stop is None:
            await asyncio.sleep(0.01)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, worker._stop.set)
        await task

    asyncio.run(main())
