"""The pbx controller: one AMI connection and the ARI Stasis app ``centrala``.

It turns Asterisk's events into domain events (``agents.events``) once, and keeps the
``pbx_status`` row current.  It runs on its own asyncio loop: a thread in the one-process
``centrala run``, or its own process (``centrala pbx controller``) when scaled out.
Both links reconnect with back-off when Asterisk goes away and re-sync when it returns.

One module per responsibility (docs/architecture.md, "The pbx controller", follows a call through them):

- ``live``          the typed live-call state (LiveCall, OutboundCall, TransferLeg)
- ``decisions``     pure decisions on AMI/ARI events, unit-tested without Asterisk
- ``links``         AMI and ARI connections, back-off, resync, the status row
- ``config_sync``   configuration reloads, queue membership, registrations, routing facts
- ``inbound``       the Stasis flow of an inbound call (hours, queue, answering machine) and its end
- ``queue_events``  queue events: agent ringing / connected, caller abandoned
- ``transfers``     the transfer target's leg: ringing, answered, the call handed over
- ``call_actions``  click-to-call, hang up, hold, blind and attended transfer
- ``core``          Controller (all of the above on one loop) and ControllerThread
"""
from .core import Controller, ControllerThread
from .links import ARI_EVENTS

__all__ = ["ARI_EVENTS", "Controller", "ControllerThread"]
