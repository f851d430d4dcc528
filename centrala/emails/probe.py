"""Test connection (SET-2): log in to a mailbox's IMAP and SMTP servers and say, per side, exactly
what failed (``connect.CODES``: dns, refused, timeout, tls, auth, protocol) or ``ok``.

Both sides are tried at once (two short-lived threads), each with a short timeout, so the
administrator waits for the slower one only.  Nothing is kept: the connections are closed at once
and the mailbox's live state (the worker's) is left alone.  The result never contains the password.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from .connect import MESSAGES, Endpoint, MailConnectError, open_imap, open_smtp

TIMEOUT = 10.0
OK_MESSAGE = "Logged in."


@dataclass(frozen=True)
class SideResult:
    side: str           # imap | smtp
    ok: bool
    code: str           # ok | dns | refused | timeout | tls | auth | protocol
    message: str        # English (MESSAGES / OK_MESSAGE); adapters translate by code
    detail: str = ""    # the server's or the library's own words

    def as_dict(self) -> dict:
        return asdict(self)


def _try(side: str, ep: Endpoint, timeout: float) -> SideResult:
    try:
        if side == "imap":
            conn = open_imap(ep, timeout=timeout)
            try:
                conn.logout()
            except Exception:
                pass
        else:
            conn = open_smtp(ep, timeout=timeout)
            try:
                conn.quit()
            except Exception:
                pass
    except MailConnectError as exc:
        detail = exc.detail.replace(ep.password, "•••") if ep.password else exc.detail
        return SideResult(side, False, exc.code, MESSAGES[exc.code], detail[:500])
    return SideResult(side, True, "ok", OK_MESSAGE)


def probe(imap: Endpoint | None, smtp: Endpoint | None, timeout: float = TIMEOUT) -> dict[str, SideResult]:
    """Try the given sides at once: {"imap": SideResult, "smtp": SideResult} (the sides given)."""
    sides = {k: v for k, v in (("imap", imap), ("smtp", smtp)) if v is not None}
    with ThreadPoolExecutor(max_workers=len(sides) or 1, thread_name_prefix="mail-probe") as pool:
        futures = {side: pool.submit(_try, side, ep, timeout) for side, ep in sides.items()}
        return {side: f.result() for side, f in futures.items()}


def test_mailbox(s, mailbox, settings=None, values: dict | None = None, timeout: float = TIMEOUT) -> dict[str, SideResult]:
    """Test a stored mailbox, or the form's unsaved ``values`` (over ``mailbox``'s, whose stored
    password is used when the form leaves it empty).  Raises ``mailboxes.MailboxInvalid`` when the
    values cannot even be tried (no host, a port out of range)."""
    from . import mailboxes as mb

    problems, eps = {}, {}
    try:
        for side in ("imap", "smtp"):
            try:
                eps[side] = (mb.endpoint(s, mailbox, side, settings) if values is None
                             else mb.endpoint_of_values(s, values, side, settings, mailbox))
            except mb.MailboxInvalid as exc:
                problems.update(exc.problems)
    except MailConnectError as exc:   # an OAuth2 token could not be had: both sides fail alike
        return {side: SideResult(side, False, exc.code, MESSAGES[exc.code], exc.detail) for side in ("imap", "smtp")}
    if problems:
        raise mb.MailboxInvalid(problems)
    return probe(eps["imap"], eps["smtp"], timeout)
