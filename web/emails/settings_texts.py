"""Translated texts of the mailbox settings (Settings / Email, My profile, /api/v1/mailboxes):
the use case's problems and the Test connection results, by code (``centrala.emails.mailboxes.PROBLEMS``,
``centrala.emails.connect.MESSAGES``)."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from centrala.emails import mailboxes as mb

STATE_LABELS = {"connected": _l("Connected"), "connecting": _l("Connecting…"), "error": _l("Error"),
                "reconnect": _l("Sign in again"), "disabled": _l("Off")}
SECURITY_LABELS = {"ssl": _l("SSL/TLS"), "starttls": _l("STARTTLS"), "none": _l("None (unencrypted)")}
AUTH_LABELS = {"password": _l("Password"), "oauth2": _l("OAuth2 sign-in (Microsoft 365, Gmail)")}
KIND_LABELS = {"shared": _l("Shared"), "personal": _l("Personal")}
SIDE_LABELS = {"imap": _l("Incoming mail (IMAP)"), "smtp": _l("Outgoing mail (SMTP)")}


def problem_text(problem: mb.Problem) -> str:
    p = problem.params
    texts = {
        "required": lambda: _("This field is required."),
        "too_long": lambda: _("At most %(max)d characters.", max=p.get("max", 0)),
        "address": lambda: _("Enter an email address such as office@example.com."),
        "host": lambda: _("Enter a host name or an IP address."),
        "port": lambda: _("Enter a port between 1 and 65535."),
        "security": lambda: _("Choose SSL/TLS, STARTTLS or none."),
        "kind": lambda: _("Choose shared or personal."),
        "password_required": lambda: _("Enter the mailbox's password."),
        "owner_required": lambda: _("Choose the user this personal mailbox belongs to."),
        "owner_unknown": lambda: _("There is no active user with this id."),
        "owner_taken": lambda: _("This user already has a personal mailbox."),
        "no_agents_personal": lambda: _("A personal mailbox is served by its owner only: leave the agents empty."),
        "no_owner_shared": lambda: _("A shared mailbox has no owner: leave the user empty."),
        "agent_unknown": lambda: _("No active user with id %(ids)s.", ids=p.get("ids", "")),
        "not_a_list": lambda: _("Send a list of user ids."),
        "auth": lambda: _("Choose password or OAuth2."),
        "oauth_url": lambda: _("Enter an https:// address."),
        "oauth_save_first": lambda: _("Save the mailbox and sign in with the provider first."),
    }
    return texts[problem.code]() if problem.code in texts else problem.message


def problems_text(exc: mb.MailboxInvalid) -> dict[str, str]:
    return {f: problem_text(p) for f, p in exc.problems.items()}


def result_text(code: str) -> str:
    """The sentence of a Test connection result (``ok`` or a ``connect.CODES`` code)."""
    texts = {
        "ok": lambda: _("Logged in."),
        "dns": lambda: _("The server's name could not be found (DNS)."),
        "refused": lambda: _("The server refused the connection (wrong port, or nothing listens there)."),
        "timeout": lambda: _("The server did not answer in time."),
        "tls": lambda: _("The secure connection (TLS) failed: certificate, or the security setting does not match the port."),
        "auth": lambda: _("The server refused the login or password."),
        "protocol": lambda: _("The server answered something unexpected."),
    }
    return texts[code]() if code in texts else code


def results_json(results) -> dict:
    return {side: {**r.as_dict(), "message": result_text(r.code), "side_label": str(SIDE_LABELS[side])}
            for side, r in results.items()}
