"""``centrala run``: Asterisk, the pbx controller, the mail worker and the web server in one command.

The web is served by gunicorn's threaded worker, the production server docker-compose.yml
uses (Flask-SocketIO's threading mode gets its websockets through simple-websocket from it),
not Werkzeug's development server.  One worker process holds the web app and the pbx
controller, which share one in-process event bus; the command's own process is gunicorn's
arbiter, and it starts Asterisk before the worker and makes sure it is stopped after.

The stop (SIGTERM, or Ctrl-C) goes in this order, so History records every call's true end:
  1. the listener closes: no new requests, so no new click-to-call;
  2. every call is hung up, repeatedly until the deadline so one arriving meanwhile is refused
     too, and the controller records each end (``pbx.shutdown.end_calls``);
  3. the controller stops;
  4. Asterisk stops (if this command started it);
  5. the web's open connections (Socket.IO) are closed and its background loops end.
"""
from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.gthread import ThreadWorker

from .config import Settings

log = logging.getLogger(__name__)
THREADS = 64              # as the compose file's web service: every open panel holds one (websocket)
END_CALLS_TIMEOUT = 15    # s to hang up the calls and see each recorded
STOP_TIMEOUT = 60         # s for the whole ordered stop before gunicorn kills the worker
ASTERISK_RETRY_SECONDS = 5  # between attempts to start again an Asterisk that died
WEB_CLOSE_TIMEOUT = 3     # s for closing the web's clients, and for its background loops


class Stack:
    """What the worker runs: the database, the event bus, the pbx controller and the web app."""

    def __init__(self, settings: Settings, owns_asterisk: bool):
        from agents.events import EventBus
        from centrala.db import Database
        from pbx.controller import Controller, ControllerThread
        from web import create_app

        self.settings = settings
        self.owns_asterisk = owns_asterisk
        self.database = Database.for_settings(settings)
        self.bus = EventBus()
        self.controller = ControllerThread(Controller(settings, self.database, self.bus)).start()
        self.app = create_app(settings, db=self.database, bus=self.bus)
        self.mail = None                 # the mail worker (issue 13): one asyncio loop for every mailbox
        if settings.mail_worker:
            from centrala.emails.worker import MailWorker

            self.mail = MailWorker(self.database, settings, self.bus).start()
        self._stopper: threading.Thread | None = None
        self._lock = threading.Lock()
        self.exit_when_stopped = False   # set in gunicorn's worker: the process ends with the stop

    def begin_stop(self) -> None:
        """Start the ordered stop (once) in its own thread: the worker keeps serving the open
        connections meanwhile, so the panels see the calls end."""
        with self._lock:
            if self._stopper is None:
                self._stopper = threading.Thread(target=self._stop, name="centrala-stop")
                self._stopper.start()

    @property
    def stopping(self) -> bool:
        return self._stopper is not None

    def wait_stopped(self, timeout: float) -> None:
        self.begin_stop()
        self._stopper.join(timeout)

    def _stop(self) -> None:
        from pbx.runtime import AsteriskRuntime
        from pbx.shutdown import end_calls
        from web.background import stop as stop_background

        started = time.monotonic()
        step = lambda what: log.info("stopping: %s (%.1f s)", what, time.monotonic() - started)  # noqa: E731
        try:
            if self.owns_asterisk:   # an Asterisk run by others keeps its calls: a new controller adopts them
                ended = end_calls(self.controller.controller, timeout=END_CALLS_TIMEOUT)
                step(f"{ended} channel(s) hung up and recorded")
            self.controller.stop()
            step("pbx controller stopped")
            if self.mail is not None:
                self.mail.stop(WEB_CLOSE_TIMEOUT)
                step("mail worker stopped")
            if self.owns_asterisk:
                AsteriskRuntime(self.settings).down()
                step("Asterisk stopped")
        except Exception:
            log.exception("stopping: the ordered stop failed part-way")
        finally:
            try:
                # every Socket.IO client (their websockets end), bounded: a client whose socket
                # is already gone must not hold the stop
                _bounded(self.app.extensions["socketio"].server.eio.disconnect, WEB_CLOSE_TIMEOUT)
                _bounded(lambda: stop_background(self.app, timeout=WEB_CLOSE_TIMEOUT), WEB_CLOSE_TIMEOUT)
                step("web closed")
            finally:
                self.database.dispose()
                if self.exit_when_stopped:
                    # all is recorded and stopped: what the worker still serves (a request
                    # stuck in a handler, a half-closed connection) must not hold the exit until
                    # gunicorn's graceful timeout kills it
                    logging.shutdown()
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(0)


class OneProcessServer(BaseApplication):
    """gunicorn configured in code (no command line of its own) with one threaded worker.  In
    the arbiter it also keeps the Asterisk this command started running: one that dies (a crash,
    kill -9) is started again, and the controller reconnects to it by itself."""

    def __init__(self, settings: Settings, runtime=None):
        self.settings = settings
        self.runtime = runtime              # the Asterisk this command started, or None
        self.owns_asterisk = runtime is not None
        self.stack: Stack | None = None
        self._next_asterisk_start = 0.0
        super().__init__()

    def keep_asterisk_running(self) -> None:
        """Called by the arbiter every second or so (never while it stops)."""
        from centrala.db import Database
        from pbx.errors import PbxError

        if self.runtime is None or self.runtime.is_running() or time.monotonic() < self._next_asterisk_start:
            return
        self._next_asterisk_start = time.monotonic() + ASTERISK_RETRY_SECONDS
        log.warning("Asterisk is not running any more; starting it again")
        db = Database.for_settings(self.settings)
        try:
            log.warning("Asterisk %s is up again", self.runtime.up(db=db))
        except PbxError as exc:
            log.error("Asterisk could not be started again (next try in %d s): %s", ASTERISK_RETRY_SECONDS, exc)
        finally:
            db.dispose()

    def load_config(self) -> None:
        s = self.settings
        options = {
            "bind": [f"{s.http_host}:{s.http_port}"], "workers": 1, "threads": THREADS,
            "worker_class": "centrala.runner.Worker", "graceful_timeout": STOP_TIMEOUT,
            "timeout": 30, "keepalive": 5, "proc_name": "centrala",
            "loglevel": s.log_level.lower(), "errorlog": "-", "accesslog": None,
            "control_socket_disable": True,   # one fixed path per user: instances side by side would clash
            "post_worker_init": _announce, "worker_exit": _worker_exit,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        self.stack = Stack(self.settings, self.owns_asterisk)
        self.stack.exit_when_stopped = True   # load() runs in the worker process
        return self.stack.app

    def run(self) -> int:
        master = os.getpid()
        try:
            _QuietArbiter(self).run()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if os.getpid() != master:
            # the worker, forked inside run(), is done (worker_exit ran): it must not go on
            # into the command's own clean-up, which is the arbiter's
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code


class Worker(ThreadWorker):
    """gunicorn's threaded worker, stopping in order on the arbiter's SIGTERM and on SIGINT or
    SIGQUIT (Ctrl-C reaches every process of the terminal) alike, instead of exiting at once."""

    def handle_exit(self, sig, frame):
        self.alive = False
        if self.app.stack is not None:
            self.app.stack.begin_stop()

    handle_quit = handle_exit


class _QuietArbiter(Arbiter):
    def manage_workers(self):
        super().manage_workers()
        self.app.keep_asterisk_running()

    def handle_hup(self):
        # gunicorn's "reload" replaces the worker: its stop would end every call and Asterisk
        self.log.info("SIGHUP ignored: restart centrala run to apply changes")


def _bounded(fn, timeout: float) -> None:
    """Run ``fn`` in a daemon thread and wait at most ``timeout`` seconds for it."""
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        log.warning("stopping: %s did not finish within %.0f s; going on", getattr(fn, "__qualname__", fn), timeout)


def _announce(worker) -> None:
    s = worker.app.settings
    print(f"Centrala is running at http://{s.http_host}:{s.http_port}/ (Ctrl-C stops it)", flush=True)


def _worker_exit(arbiter, worker) -> None:
    stack = worker.app.stack
    if stack is None:
        return
    if stack.stopping:
        stack.wait_stopped(STOP_TIMEOUT - 5)
    else:   # the worker ends without a stop (gunicorn killed it): calls and Asterisk carry on
        stack.controller.stop()             # for the next worker's controller to adopt


def check_listen(host: str, port: int) -> None:
    """Raise OSError now if the web cannot listen (gunicorn would retry for seconds first)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))


def serve(settings: Settings, runtime=None) -> int:
    """Serve until stopped; the exit status (gunicorn's: 0 after a clean stop).  ``runtime``:
    the Asterisk this command started (kept running, stopped at the end), or None."""
    sys.stdout.flush()
    return OneProcessServer(settings, runtime).run()
