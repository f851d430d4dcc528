"""The email conversation page, New email and attachment downloads (issue 13: EML-2/3, COM-1, HIS-3).

- ``/email/<id>``: the thread (each HTML body in a sandboxed frame with its own CSP: no script,
  remote images blocked until "Show images"; quoted history folded), accept (``?accept=1``, through
  the offer engine), the contact side panel, the reply box, each sent message's delivery state with
  Retry.  ``/email/new``: New email from the top bar.  Both send through ``centrala.emails.outbox``.
- ``/email/attachments/<id>``: always a download (``attachment``, ``nosniff``), never inline.

Who sees a conversation: administrators, its agent, the agent it is offered to, and the agents of its
mailbox (a personal one: its owner).  Who writes: the conversation core's rule (its agent or an
administrator, ``lifecycle.may_take_part``).
"""
from __future__ import annotations

import re

from flask import (Blueprint, Response, abort, current_app, jsonify, render_template, request, send_file,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import or_, select

from agents import conversation as rules
from centrala.channels import ChannelError
from centrala.conversations import lifecycle, offers
from centrala.emails import outbox
from centrala.files import FileError
from centrala.models import Communication, User, iso
from centrala.models_email import EmailAttachment, EmailConversation, EmailMessage, EmailTemplate, Mailbox

from ..extensions import bus, dbs
from ..offers import engine

bp = Blueprint("emails", __name__)

MAX_FILES_LISTED = 20
_REMOTE_IMG = re.compile(r"""<img\b[^>]*\bsrc\s*=\s*["']?\s*(https?:)?//""", re.I)
_QUOTE_HEAD = re.compile(r"^(On .{4,200} wrote:|W dniu .{4,200} pisze:|-----\s*(Original Message|Wiadomość "
                         r"oryginalna)\s*-----)\s*$", re.I)
# never shown inline: a download with a neutral type whatever the sender claimed
_ACTIVE_TYPES = ("text/html", "image/svg", "application/xhtml", "text/xml", "application/xml", "text/javascript",
                 "application/javascript")


# -- who may see and write ---------------------------------------------------------------------
def _conversation(comm_id: int) -> tuple[Communication, EmailConversation]:
    s = dbs()
    c = lifecycle.get(s, comm_id, "email")
    conv = s.get(EmailConversation, comm_id) if c else None
    if c is None or conv is None:
        abort(404)
    return c, conv


def _offered_to_me(s, c: Communication) -> bool:
    pending = offers.open_offer(s, c.id)
    return pending is not None and pending.agent_id == current_user.id


def may_see(s, user: User, c: Communication, conv: EmailConversation) -> bool:
    if user.is_admin or c.agent_id == user.id or outbox.serves(s, user.id, conv.mailbox_id):
        return True
    pending = offers.open_offer(s, c.id)
    return pending is not None and pending.agent_id == user.id


def _visible(comm_id: int) -> tuple[Communication, EmailConversation]:
    c, conv = _conversation(comm_id)
    if not may_see(dbs(), current_user, c, conv):
        abort(403)
    return c, conv


def _writable(comm_id: int) -> tuple[Communication, EmailConversation]:
    c, conv = _visible(comm_id)
    if not lifecycle.may_take_part(current_user, c):
        abort(403)
    return c, conv


# -- the thread --------------------------------------------------------------------------------
def fold_quoted(text: str) -> tuple[str, str]:
    """(what the writer wrote, the quoted history below it): the quote begins at an attribution
    line ("On … wrote:", "W dniu … pisze:", "--- Original Message ---") or at the first block of
    lines starting with ">" that runs to the end."""
    lines = (text or "").splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        rest = [x for x in lines[i:] if x.strip()]
        if _QUOTE_HEAD.match(stripped) or (stripped.startswith(">") and all(
                x.lstrip().startswith(">") or _QUOTE_HEAD.match(x.strip()) for x in rest)):
            return "\n".join(lines[:i]).rstrip(), "\n".join(lines[i:])
    return (text or "").rstrip(), ""


def thread(s, c: Communication) -> list[dict]:
    rows = s.scalars(select(EmailMessage).where(EmailMessage.communication_id == c.id).order_by(EmailMessage.id)).all()
    ids = {m.user_id for m in rows if m.user_id}
    names = dict(s.execute(select(User.id, User.name).where(User.id.in_(ids))).all()) if ids else {}
    files: dict[int, list[dict]] = {}
    if rows:
        for a in s.scalars(select(EmailAttachment).where(EmailAttachment.message_id.in_([m.id for m in rows]))
                           .order_by(EmailAttachment.id)):
            files.setdefault(a.message_id, []).append(
                {"id": a.id, "name": a.name, "size": a.size, "url": url_for("emails.attachment", att_id=a.id)})
    out = []
    for m in rows:
        own, quoted = fold_quoted(m.text)
        out.append({"id": m.id, "direction": m.direction, "kind": m.kind, "subject": m.subject,
                    "from": m.from_addr, "from_name": m.from_name, "to": list(m.to or []), "cc": list(m.cc or []),
                    "at": iso(m.sent_at or m.created_at), "author": names.get(m.user_id) if m.user_id else None,
                    "text": own, "quoted": quoted, "html": bool(m.html),
                    "remote_images": bool(m.html and _REMOTE_IMG.search(m.html)),
                    "body_url": url_for("emails.body", msg_id=m.id) if m.html else None,
                    "attachments": files.get(m.id, []), "delivery": m.delivery, "error": m.error,
                    "parse_error": m.parse_error, "attempts": m.attempts})
    return out


def delivery_texts() -> dict:
    return {"queued": _("Queued"), "sending": _("Sending…"), "sent": _("Sent"), "failed": _("Not sent"),
            "received": _("Received"), "retry": _("Retry"), "retrying": _("Queued again"),
            "error": _("Could not send. Try again."), "sending_note": _("Your message is on its way.")}


def templates(s) -> list[dict]:
    return [{"id": t.id, "title": t.title, "body": t.body}
            for t in s.scalars(select(EmailTemplate).order_by(EmailTemplate.title))]


@bp.app_context_processor
def _history_context():
    def email_history(comm_id: int) -> dict:
        """The thread of an email conversation for its History entry (HIS-3), if the user may see it."""
        s = dbs()
        c = lifecycle.get(s, comm_id, "email")
        conv = s.get(EmailConversation, comm_id) if c else None
        if c is None or conv is None or not may_see(s, current_user, c, conv):
            return {"visible": False}
        return {"visible": True, "conv": conv, "messages": thread(s, c), "texts": delivery_texts(),
                "may_reply": lifecycle.may_take_part(current_user, c)}

    return {"email_history": email_history}


@bp.get("/email/<int:comm_id>")
@login_required
def view(comm_id: int):
    s = dbs()
    c, conv = _visible(comm_id)
    offered = _offered_to_me(s, c)
    mailbox = s.get(Mailbox, conv.mailbox_id) if conv.mailbox_id else None
    owner = s.get(User, c.agent_id) if c.agent_id else None
    data = {"id": c.id, "mine": lifecycle.may_take_part(current_user, c), "offered": offered,
            "accept": request.args.get("accept") == "1", "ended": c.ended_at is not None,
            "messages": thread(s, c), "templates": templates(s),
            "urls": {"accept": url_for("emails.accept", comm_id=c.id), "reply": url_for("emails.reply", comm_id=c.id),
                     "state": url_for("emails.state", comm_id=c.id), "files": url_for("emails.files"),
                     "retry": url_for("emails.retry", msg_id=0).replace("/0/", "/{id}/")},
            "texts": {**delivery_texts(), "taken": _("Another agent has taken this email."),
                      "unavailable": _("You can take an email only while you are Online and serve email."),
                      "withdrawn": _("This email is no longer offered to you.")}}
    return render_template("email/view.html", active_tab="history", c=c, conv=conv, mailbox=mailbox, owner=owner,
                           data=data)


@bp.get("/email/<int:comm_id>/state")
@login_required
def state(comm_id: int):
    """Each message's delivery state (the page polls it while something is on its way)."""
    s = dbs()
    c, _conv = _visible(comm_id)
    rows = s.execute(select(EmailMessage.id, EmailMessage.delivery, EmailMessage.error)
                     .where(EmailMessage.communication_id == c.id).order_by(EmailMessage.id)).all()
    return jsonify({"messages": [{"id": i, "delivery": d, "error": e} for i, d, e in rows]})


@bp.get("/email/messages/<int:msg_id>/body")
@login_required
def body(msg_id: int):
    """One message's sanitized HTML as its own document, for a sandboxed frame: no script at all,
    no remote content unless ``?images=1`` (the agent clicked "Show images"), quoted history folded."""
    s = dbs()
    m = s.get(EmailMessage, msg_id) or abort(404)
    _visible(m.communication_id)
    images = request.args.get("images") == "1"
    html = re.sub(r"(?is)<blockquote\b", f"<details><summary>{_('Show quoted text')}</summary><blockquote", m.html or "")
    html = re.sub(r"(?is)</blockquote>", "</blockquote></details>", html)
    doc = ("<!doctype html><html><head><meta charset='utf-8'><style>body{font:14px/1.5 system-ui,sans-serif;"
           "margin:0;padding:8px;color:#1f2937;overflow-wrap:anywhere}img{max-width:100%;height:auto}summary{cursor:pointer;"
           "color:#6b7280}blockquote{margin:0 0 0 .5em;padding-left:.75em;border-left:3px solid #d1d5db}</style>"
           f"</head><body>{html}</body></html>")
    resp = Response(doc, mimetype="text/html")
    img = "img-src data: https: http:" if images else "img-src data:"
    resp.headers["Content-Security-Policy"] = (f"default-src 'none'; style-src 'unsafe-inline'; {img}; "
                                               "frame-ancestors 'self'; form-action 'none'; base-uri 'none'; sandbox")
    resp.headers["X-Frame-Options"] = "SAMEORIGIN"
    resp.headers["Referrer-Policy"] = "no-referrer"   # a remote image learns nothing of the panel
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.get("/email/attachments/<int:att_id>")
@login_required
def attachment(att_id: int):
    s = dbs()
    a = s.get(EmailAttachment, att_id) or abort(404)
    m = s.get(EmailMessage, a.message_id) or abort(404)
    _visible(m.communication_id)
    path = outbox.config_of(s).attachments_dir / a.stored_name
    if not path.is_file():
        abort(404)
    ctype = a.content_type or "application/octet-stream"
    if ctype.lower().startswith(_ACTIVE_TYPES) or "/" not in ctype:
        ctype = "application/octet-stream"
    resp = send_file(path, mimetype=ctype, as_attachment=True, download_name=a.name or "attachment",
                     conditional=True, max_age=0)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


# -- acting on it ------------------------------------------------------------------------------
def _refused(message: str, status: int = 422, field: str = ""):
    return jsonify({"ok": False, "error": message, "field": field}), status


@bp.post("/email/<int:comm_id>/accept")
@login_required
def accept(comm_id: int):
    """Take an email offered to me (the offer engine decides; one accept wins)."""
    s = dbs()
    _visible(comm_id)
    r = engine(current_app).accept(s, comm_id, current_user.id)
    return jsonify(r.as_dict()), 200 if r.ok else 409


def _attachments_of(form, uploads) -> list[dict]:
    out = []
    for raw in form.getlist("file_id"):
        try:
            out.append({"file_id": int(raw)})
        except ValueError:
            raise outbox.ComposeError(_("A file picked from Files no longer exists."), "attachments") from None
    for f in uploads.getlist("files"):
        if f and f.filename:
            out.append({"stream": f.stream, "name": f.filename, "content_type": f.mimetype})
    return out


def _compose_error(exc) -> tuple:
    messages = {"to": _("Add at least one valid recipient."), "cc": _("Check the Cc addresses."),
                "subject": _("Write a subject (one line, at most %(n)d characters).", n=outbox.MAX_SUBJECT),
                "text": _("Write a message."), "mailbox_id": _("Choose a mailbox you may send from."),
                "attachments": _("Attachments may be at most %(n)d MB together, and picked files must exist.",
                                 n=outbox.MAX_ATTACHMENTS // outbox.MB)}
    field = getattr(exc, "field", "") or ""
    text = messages.get(field, _("The email could not be sent."))
    if getattr(exc, "code", "") == "bad_address":
        text = _("%(address)s is not a valid email address.", address=exc.value)
    if getattr(exc, "code", "") == "no_mailbox":
        text = _("This conversation's mailbox was removed; the reply cannot be sent.")
    return _refused(text, exc.status if exc.status in (409, 422) else 422, field)


@bp.post("/email/<int:comm_id>/reply")
@login_required
def reply(comm_id: int):
    s = dbs()
    c, _conv = _writable(comm_id)

    def write() -> dict:
        cc = outbox.addresses(request.form.getlist("cc"), "cc", required=False)
        sent = lifecycle.reply(s, c, current_user, request.form.get("html", ""),
                               _attachments_of(request.form, request.files))
        outbox.add_cc(s, sent.message.id, cc)
        return {"message_id": sent.message.id}

    return _queued(s, write)


def _queued(s, write):
    """Run ``write`` (it queues a message), commit and answer JSON; a refusal names its field."""
    try:
        result = write()
    except ChannelError as exc:
        lifecycle.discard(s)
        return _compose_error(exc)
    except FileError:
        lifecycle.discard(s)
        return _refused(_("An attachment's name is not allowed."), 422, "attachments")
    lifecycle.commit(s, bus())
    return jsonify({"ok": True, **result})


@bp.post("/email/messages/<int:msg_id>/retry")
@login_required
def retry(msg_id: int):
    s = dbs()
    m = s.get(EmailMessage, msg_id) or abort(404)
    _writable(m.communication_id)
    if not outbox.retry(s, m):
        s.rollback()
        return _refused(_("Only a message that was not sent can be retried."), 409)
    s.commit()
    return jsonify({"ok": True, "delivery": m.delivery})


@bp.post("/email/<int:comm_id>/close")
@login_required
def close(comm_id: int):
    s = dbs()
    c, _conv = _writable(comm_id)
    lifecycle.close(s, c, rules.ANSWERED if c.answered_at else rules.MISSED, by=current_user.id)
    lifecycle.commit(s, bus())
    return jsonify({"ok": True})


# -- New email (COM-1) -------------------------------------------------------------------------
@bp.get("/email/new")
@login_required
def new():
    s = dbs()
    boxes = outbox.usable_by(s, current_user.id)
    data = {"templates": templates(s),
            "urls": {"send": url_for("emails.send_new"), "contacts": url_for("emails.contacts"),
                     "files": url_for("emails.files")},
            "texts": {"error": _("Could not send. Try again."), "no_contacts": _("No matching contacts.")}}
    return render_template("email/new.html", active_tab="", mailboxes=boxes, data=data,
                           to=request.args.get("to", "")[:254])


@bp.post("/email/new")
@login_required
def send_new():
    s = dbs()
    try:
        mailbox_id = int(request.form.get("mailbox_id") or 0)
    except ValueError:
        mailbox_id = 0

    def write() -> dict:
        c = outbox.start(s, mailbox_id, current_user.id, request.form.getlist("to"), request.form.getlist("cc"),
                         request.form.get("subject", ""), request.form.get("html", ""),
                         _attachments_of(request.form, request.files))
        return {"id": c.id, "url": url_for("emails.view", comm_id=c.id)}

    return _queued(s, write)


@bp.get("/email/contacts")
@login_required
def contacts():
    """Contacts whose name or address matches ``q``: the To field's suggestions."""
    from centrala.models_contacts import Contact, ContactEmail

    q = (request.args.get("q") or "").strip()[:100]
    if len(q) < 2:
        return jsonify({"items": []})
    like = f"%{q.lower()}%"
    rows = dbs().execute(select(ContactEmail.email, Contact.first_name, Contact.last_name, Contact.organisation)
                         .join(Contact, Contact.id == ContactEmail.contact_id)
                         .where(or_(ContactEmail.email.like(like), Contact.search.like(like)))
                         .order_by(Contact.last_name, Contact.first_name).limit(10)).all()
    return jsonify({"items": [{"email": e, "name": " ".join(p for p in (f, l) if p) or o}
                              for e, f, l, o in rows]})


@bp.get("/email/files")
@login_required
def files():
    """Files (FIL) whose name matches ``q``: attachments picked from Files."""
    from centrala.models_files import StoredFile

    q = (request.args.get("q") or "").strip()[:100]
    stmt = select(StoredFile).order_by(StoredFile.uploaded_at.desc()).limit(MAX_FILES_LISTED)
    if q:
        stmt = stmt.where(StoredFile.name.ilike(f"%{q}%"))
    return jsonify({"items": [{"id": f.id, "name": f.name, "size": f.size_bytes} for f in dbs().scalars(stmt)]})

