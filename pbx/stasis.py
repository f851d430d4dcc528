"""What happens to a call inside Centrala's Stasis app.

Until numbers and queues exist (VOI-1, VOI-2), an inbound call to a number Centrala does not
know is answered, hears "service unavailable", and is hung up: never left ringing.
"""
from __future__ import annotations

import logging
import uuid

import anyio

log = logging.getLogger(__name__)

UNKNOWN_NUMBER_SOUND = "sound:ss-noservice"


class PlaybackWaiter:
    """Lets a call flow wait for an ARI event about one of its objects (a playback's
    PlaybackFinished, a recording's RecordingFinished), which the controller feeds in by id."""

    def __init__(self) -> None:
        self._events: dict[str, anyio.Event] = {}

    def expect(self, playback_id: str) -> anyio.Event:
        ev = anyio.Event()
        self._events[playback_id] = ev
        return ev

    def finished(self, playback_id: str) -> None:
        ev = self._events.pop(playback_id, None)
        if ev:
            ev.set()


async def play_and_wait(client, waiter: PlaybackWaiter, channel_id: str, media: str,
                        timeout: float = 30.0) -> None:
    playback_id = "pb-" + uuid.uuid4().hex
    done = waiter.expect(playback_id)
    await client.channels.play(channelId=channel_id, media=media, playbackId=playback_id)
    with anyio.move_on_after(timeout):
        await done.wait()


async def inbound_unknown_number(client, waiter: PlaybackWaiter, channel_id: str) -> None:
    try:
        await client.channels.answer(channelId=channel_id)
        await play_and_wait(client, waiter, channel_id, UNKNOWN_NUMBER_SOUND)
        await client.channels.hangup(channelId=channel_id, reason="normal")
    except Exception as exc:  # the caller may already have hung up
        log.info("inbound flow for %s ended early: %s", channel_id, exc)


def queue_extension(record: bool | None) -> str:
    """``centrala-queue`` extension: the account's recording switch, or the number's own (VOI-5)."""
    return "inbound" if record is None else ("inbound-record" if record else "inbound-norecord")


async def to_queue(rest, client, channel_id: str, record: bool | None = None) -> None:
    """Hand the call to the dialplan's queue context (music on hold, ring timeout, wrap-up):
    through ``rest`` (the controller's keep-alive ARI client, pbx/controller/ari_rest.py), or
    asyncari's ``client`` if that failed — a caller is never left in Stasis."""
    extension = queue_extension(record)
    try:
        await rest.continue_in_dialplan(channel_id, "centrala-queue", extension, 1)
        return
    except Exception as exc:
        log.warning("queueing %s over the kept-alive ARI connection failed (%s), trying asyncari",
                    channel_id, exc)
    try:
        await client.channels.continueInDialplan(channelId=channel_id, context="centrala-queue",
                                                 extension=extension, priority=1)
    except Exception as exc:
        log.warning("could not queue %s: %s", channel_id, exc)


async def answering_machine(client, waiter: PlaybackWaiter, channel_id: str, prompt: str,
                            max_seconds: int, name: str) -> bool:
    """VOI-3: answer, play the greeting, record after the beep until the caller hangs up, presses
    #, or ``max_seconds`` pass.  True when a recording was made (stored by Asterisk under
    ``<spool>/recording/<name>.wav``)."""
    try:
        await client.channels.answer(channelId=channel_id)
        if prompt:
            await play_and_wait(client, waiter, channel_id, prompt)
        done = waiter.expect(name)
        await client.channels.record(channelId=channel_id, name=name, format="wav",
                                     maxDurationSeconds=max_seconds, beep=True, terminateOn="#",
                                     ifExists="overwrite")
        with anyio.move_on_after(max_seconds + 10):
            await done.wait()
        try:
            await client.channels.hangup(channelId=channel_id, reason="normal")
        except Exception:
            pass  # the caller hung up first
        return True
    except Exception as exc:
        log.info("answering machine for %s ended early: %s", channel_id, exc)
        return False
