"""Website chat over HTTP: the embed loader and widget frame (public), the agent's chat view,
and Settings / General, Chat, Triggers (administrators)."""
from __future__ import annotations

from flask import (Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request,
                   send_from_directory, url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from agents.chat import (CHAT, MAX_MESSAGE, MAX_TRANSFER_NOTE, MAX_TRIGGER, ChatInputError, clean_email,
                         clean_trigger, origin_allowed, origin_of, page_language, parse_origins, trigger_for)
from agents.offers import TRANSFER
from centrala.channels import Inbound
from centrala.conversations import lifecycle, offers
from centrala.models import Communication, User, iso, utcnow
from centrala.models_chat import ChatTemplate

from ..security_headers import widget_policy
from ..auth.permissions import admin_required
from ..conversations import live
from ..extensions import bus, csrf, dbs, settings
from . import services as svc
from . import transfers

bp = Blueprint("chat", __name__)


@bp.app_context_processor
def _embed_context():
    def chat_embed():
        cfg = svc.get_settings(dbs())
        return cfg, svc.snippet(settings().base_url, cfg["key"])

    def chat_history(comm_id: int) -> dict:
        """Transcript, visitor and pages of a chat for its History entry."""
        s = dbs()
        _c, conv, v = svc.conversation(s, comm_id)
        return {"messages": svc.transcript(s, comm_id), "pages": svc.pages(s, comm_id), "visitor": v,
                "conv": conv}

    def chat_handled_before(comm_id: int) -> list[str]:
        """Agents who had the chat before it was transferred to its final agent."""
        s = dbs()
        ids = svc.previous_agents(s, comm_id)
        names = dict(s.execute(select(User.id, User.name).where(User.id.in_(ids))).all()) if ids else {}
        return [names.get(i, f"#{i}") for i in ids]

    return {"chat_embed": chat_embed, "chat_history": chat_history, "chat_handled_before": chat_handled_before}


# -- public: loader and frame --------------------------------------------------------------
def _config_or_404(key: str) -> dict:
    cfg = svc.get_settings(dbs())
    if key != cfg["key"]:
        abort(404)
    return cfg


def _referrer_origin() -> str | None:
    return origin_of(request.headers.get("Origin")) or origin_of(request.referrer)


@bp.get("/widget/<key>/loader.js")
def loader(key: str):
    s = dbs()
    cfg = _config_or_404(key)
    origin = _referrer_origin()
    site = origin_of(cfg["website"])
    if site and origin == site:   # CHT-7: the script was loaded from the configured website
        svc.save_settings(s, {"embed_seen_at": iso(utcnow()), "embed_seen_url": origin})
    if not cfg["enabled"] or not origin_allowed(origin, svc.allowed_origins(cfg)):
        body = "/* Centrala: this website is not allowed to embed the chat */\n"
    else:
        h, v = ("left" if cfg["corner"].endswith("left") else "right"), ("top" if cfg["corner"].startswith("top") else "bottom")
        conf = {"frame": request.host_url.rstrip("/") + url_for("chat.frame", key=key),
                "origin": request.host_url.rstrip("/"), "h": h, "v": v,
                "x": int(cfg["offset_x"]), "y": int(cfg["offset_y"])}
        body = render_template("chat/loader.js", conf=conf)
    resp = Response(body, mimetype="application/javascript")
    resp.headers["Cache-Control"] = "no-cache"   # so the embedding check sees every load
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@bp.get("/widget/<key>/frame")
def frame(key: str):
    s = dbs()
    cfg = _config_or_404(key)
    allowed = svc.allowed_origins(cfg)
    host = origin_of(request.args.get("o"))
    referrer = _referrer_origin()   # absent on sites with "no-referrer": frame-ancestors still holds
    if not cfg["enabled"] or not origin_allowed(host, allowed) or \
            (allowed and referrer and not origin_allowed(referrer, allowed)):
        abort(403)
    lang = page_language(request.args.get("lang"))
    agents_ok = bool(svc.candidates(s))
    company = cfg["company"] or _("our team")
    texts = _widget_texts(lang, company)
    conf = {
        "key": key, "lang": lang, "online": agents_ok, "color": cfg["color"], "company": cfg["company"],
        "corner": cfg["corner"], "ask_data": bool(cfg["ask_data"]), "force_data": bool(cfg["force_data"]),
        "trigger": trigger_for(cfg["triggers"], bool(cfg["triggers_enabled"]), lang),
        "agent": svc.agent_card(svc.online_agent(s), key), "origin": host or "",
        "logo": url_for("chat.logo", key=key, v=cfg["logo"][:8]) if cfg["logo"] else None,
        "max": MAX_MESSAGE, "max_file": svc.MAX_ATTACHMENT, "texts": texts,
    }
    resp = Response(render_template("chat/frame.html", conf=conf, lang=lang))
    resp.headers["Content-Security-Policy"] = widget_policy(allowed)
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/widget/<key>/logo")
def logo(key: str):
    cfg = _config_or_404(key)
    if not cfg["logo"]:
        abort(404)
    return send_from_directory(svc.files_dir(settings()), cfg["logo"], mimetype="image/png", max_age=300)


@bp.post("/settings/general/logo")
@admin_required
def upload_logo():
    import secrets

    from ..profile.avatars import AvatarError, process_avatar

    s = dbs()
    upload = request.files.get("logo")
    if upload is None or not upload.filename:
        flash(_("Choose an image file."), "error")
        return redirect(url_for("chat.general"))
    try:
        image = process_avatar(upload.stream)
    except AvatarError as exc:
        flash(str(exc), "error")
        return redirect(url_for("chat.general"))
    target = svc.files_dir(settings())
    target.mkdir(parents=True, exist_ok=True)
    name = f"logo-{secrets.token_hex(8)}.png"
    (target / name).write_bytes(image)
    old = svc.get_settings(s)["logo"]
    svc.save_settings(s, {"logo": name})
    if old:
        (target / old).unlink(missing_ok=True)
    flash(_("The logo is saved."), "success")
    return redirect(url_for("chat.general"))


@bp.post("/settings/general/logo/delete")
@admin_required
def delete_logo():
    s = dbs()
    old = svc.get_settings(s)["logo"]
    svc.save_settings(s, {"logo": ""})
    if old:
        (svc.files_dir(settings()) / old).unlink(missing_ok=True)
    flash(_("The logo is removed."), "success")
    return redirect(url_for("chat.general"))


@bp.get("/widget/<key>/avatar/<int:user_id>")
def avatar(key: str, user_id: int):
    _config_or_404(key)
    u = dbs().get(User, user_id)
    if u is None or not u.active or not u.avatar:
        abort(404)
    return send_from_directory(settings().avatars_dir, u.avatar, max_age=300)


def _widget_texts(lang: str, company: str) -> dict:
    from flask_babel import force_locale

    with force_locale(lang):
        return {
            "title": _("Questions? Write to us"), "placeholder": _("Type your message…"),
            "send": _("Send"), "open": _("Open the chat"), "close": _("Close the chat"),
            "typing": _("typing…"), "support": _("Customer support"), "company": company,
            "consent": _("Your message will be sent once you answer the request below: before we start, "
                         "we would like to ask you two questions about your details. Just click an answer below."),
            "yes": _("Of course"), "no": _("No, thanks"),
            "required": _("We need your name and email address before we can chat."),
            "name": _("Your name"), "email": _("Your email address"), "ok": _("OK"),
            "bad_name": _("Enter your name."), "bad_email": _("Enter a valid email address."),
            "offline_title": _("We are not available right now. Leave us a message and we will write back."),
            "message": _("Message"), "submit": _("Send message"),
            "thanks": _("Thank you. We will answer by email."),
            "closed": _("The chat has ended. Write again if you need anything."),
            "joined": _("{name} joined the chat."), "waiting": _("Connecting you with an agent…"),
            "rate_limited": _("You are sending messages too fast. Wait a moment."),
            "too_long": _("The message is too long."), "error": _("Something went wrong. Try again."),
            "you": _("You"), "attach": _("Attach an image or PDF"),
            "too_large_file": _("The file is larger than 5 MB."),
        }


# -- attachments (images, PDF) both ways ----------------------------------------------------
def _attachment_error(code: str, status: int = 400):
    texts = {"empty": _("The file is empty."), "too_large": _("The file is larger than 5 MB."),
             "bad_type": _("Send an image (PNG, JPEG, GIF, WebP) or a PDF."),
             "forbidden": _("There is no open chat to send the file to."),
             "rate_limited": _("You are sending messages too fast. Wait a moment.")}
    return jsonify({"ok": False, "error": code, "message": texts.get(code, code)}), status


@bp.post("/widget/<key>/upload")
@csrf.exempt   # the visitor's token header authenticates; no cookie to ride on
def visitor_upload(key: str):
    from flask_babel import force_locale

    from .sockets import _public, hub

    s = dbs()
    _config_or_404(key)
    v = svc.visitor_by_token(s, request.headers.get("X-Visitor-Token"))
    with force_locale(v.language if v else "en"):
        c = s.get(Communication, v.communication_id) if v and v.communication_id else None
        if c is None or c.ended_at is not None:
            return _attachment_error("forbidden", 403)
        if not hub().allow("address_upload", request.remote_addr or "") or not hub().allow("visitor_upload", f"v{v.id}"):
            return _attachment_error("rate_limited", 429)
        upload = request.files.get("file")
        try:
            value = svc.save_attachment(settings(), upload.stream if upload else _Empty(),
                                        upload.filename if upload else "")
        except svc.AttachmentError as exc:
            return _attachment_error(exc.code)
    name = value.partition("/")[2]
    m = lifecycle.add_inbound(s, c, Inbound(remote=c.remote, text=name, attachments=[{"ref": value, "name": name}]))
    lifecycle.commit(s, bus())
    out = live.push(current_app, s, c, m.id)
    return jsonify({"ok": True, "message": _public(out)})


class _Empty:
    def read(self, _n=-1):
        return b""


@bp.post("/chat/<int:chat_id>/upload")
@login_required
def agent_upload(chat_id: int):
    s = dbs()
    c, _conv, _v = svc.conversation(s, chat_id)
    if c is None or c.agent_id != current_user.id or c.ended_at is not None:
        return _attachment_error("forbidden", 403)
    upload = request.files.get("file")
    try:
        value = svc.save_attachment(settings(), upload.stream if upload else _Empty(), upload.filename if upload else "")
    except svc.AttachmentError as exc:
        return _attachment_error(exc.code)
    name = value.partition("/")[2]
    sent = lifecycle.reply(s, c, current_user, name, attachments=[{"ref": value, "name": name}])
    lifecycle.commit(s, bus())
    return jsonify({"ok": True, "message": live.push(current_app, s, c, sent.message.id)})


@bp.get("/widget/<key>/files/<name>")
def attachment(key: str, name: str):
    """A chat attachment by its unguessable stored name (a capability URL, like the chat's
    own token): served inert — no sniffing, sandboxed, PDFs as downloads."""
    import re

    _config_or_404(key)
    if not re.fullmatch(r"[A-Za-z0-9_-]{32}\.(png|jpg|gif|webp|pdf)", name):
        abort(404)
    ext = name.rsplit(".", 1)[1]
    resp = send_from_directory(svc.files_dir(settings()), name, mimetype=svc.MIMETYPES[ext],
                               as_attachment=ext == "pdf", max_age=3600)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return resp


# -- the agent's chat view --------------------------------------------------------------
@bp.get("/chat")
@login_required
def index():
    s = dbs()
    mine = s.scalars(select(Communication).where(Communication.channel == "chat",
                                                 Communication.agent_id == current_user.id,
                                                 Communication.ended_at.is_(None))
                     .order_by(Communication.started_at.desc())).all()
    offered = offers.offers_for(s, current_user.id, CHAT)       # waiting, or handed over by a colleague
    waiting_ids = [o.communication_id for o in offered]
    waiting = s.scalars(select(Communication).where(Communication.id.in_(waiting_ids))).all() if waiting_ids else []
    handed = {o.communication_id: transfers.offer_note(s, o.communication_id, current_user.id)
              for o in offered if o.kind == TRANSFER}
    return render_template("chat/index.html", active_tab="chats", chats=mine, waiting=waiting, handed=handed)


@bp.get("/chat/<int:chat_id>")
@login_required
def view(chat_id: int):
    from .sockets import hub

    s = dbs()
    c, conv, v = svc.conversation(s, chat_id)
    if c is None or conv is None:
        abort(404)
    handed = transfers.offer_note(s, chat_id, current_user.id)    # a colleague offers it to me
    pending = offers.open_offer(s, chat_id)
    offered = pending is not None and pending.agent_id == current_user.id
    earlier = current_user.id in svc.previous_agents(s, chat_id)    # I had it and transferred it on
    if not lifecycle.may_take_part(current_user, c) and not offered and not earlier:
        abort(403)
    mine = c.agent_id == current_user.id and c.ended_at is None
    owner = s.get(User, c.agent_id) if c.agent_id else None
    open_chats = s.scalars(select(Communication).where(Communication.channel == "chat",
                                                       Communication.agent_id == current_user.id,
                                                       Communication.ended_at.is_(None))
                           .order_by(Communication.started_at.desc())).all()
    data = {"id": c.id, "me": current_user.id, "mine": c.agent_id == current_user.id, "offered": offered,
            "ended": c.ended_at is not None, "accept": request.args.get("accept") == "1",
            "messages": svc.transcript(s, c.id), "pages": svc.pages(s, c.id), "max": MAX_MESSAGE,
            "transfer": transfers.pending_json(s, c.id) if mine else None,
            "transferred_to": owner.name if owner and earlier and c.agent_id != current_user.id else None,
            "texts": {"visitor": _("Visitor"), "taken": _("Another agent has taken this chat."),
                      "unavailable": _("You can take a chat only while you are Online and serve chat."),
                      "typing": _("typing…"), "closed": _("Chat closed"), "error": _("Could not send. Try again."),
                      "withdrawn": _("This chat is no longer offered to you."), "note": _("Note"),
                      "online": _("Online"), "break": _("Break"), "offline": _("Offline"),
                      "waiting": _("Waiting for {name} to accept…"), "transferred": _("Transferred to {name}"),
                      "transfer_line": _("{old} transferred the chat to {new}."),
                      "withdrawn_reasons": {"timeout": _("{name} did not accept; the chat stays with you."),
                                            "away": _("{name} is no longer Online; the chat stays with you."),
                                            "nobody": _("Nobody accepted; the chat stays with you."),
                                            "cancelled": _("Transfer cancelled; the chat stays with you.")},
                      "choose": _("Choose who should take the chat."),
                      "errors": {"closed": _("This chat has already ended."),
                                 "not_owner": _("Only the agent who has the chat can transfer it."),
                                 "pending": _("A transfer of this chat is already waiting. Cancel it first."),
                                 "bad_agent": _("Choose an active agent who serves chat."),
                                 "self": _("Choose a colleague, not yourself."),
                                 "not_online": _("This agent is not Online any more. Choose someone who is."),
                                 "nobody": _("Nobody else serving chat is Online right now."),
                                 "too_long": _("The note may be at most %(n)d characters long.",
                                               n=MAX_TRANSFER_NOTE)}}}
    with hub().lock:
        here = v is not None and v.id in hub().sids.values()
    who = c.remote if not c.remote.startswith("#") else _("Visitor") + " " + c.remote
    return render_template("chat/view.html", active_tab="chats", c=c, conv=conv, v=v, data=data, who=who, here=here,
                           templates=svc.templates(s), open_chats=open_chats, handed=handed,
                           note_max=MAX_TRANSFER_NOTE)


# -- settings ----------------------------------------------------------------------------
def _int(form, key, low, high, errors, default):
    try:
        value = int(form.get(key, default))
    except (TypeError, ValueError):
        errors[key] = _("Enter a whole number.")
        return default
    if not low <= value <= high:
        errors[key] = _("Enter a number from %(low)d to %(high)d.", low=low, high=high)
    return value


@bp.route("/settings/general", methods=["GET", "POST"])
@admin_required
def general():
    s = dbs()
    cfg = svc.get_settings(s)
    values = dict(cfg, origins_text="\n".join(cfg["origins"]))
    errors: dict = {}
    if request.method == "POST":
        f = request.form
        values.update(company=f.get("company", "").strip()[:200], website=f.get("website", "").strip(),
                      default_email=f.get("default_email", "").strip(), origins_text=f.get("origins", ""),
                      color=f.get("color", "").strip(), corner=f.get("corner", ""))
        if values["website"] and origin_of(values["website"]) is None:
            errors["website"] = _("Enter the address of your website, e.g. https://www.example.com.")
        try:
            values["origins"] = parse_origins(values["origins_text"])
        except ChatInputError:
            errors["origins"] = _("Enter one address per line, e.g. https://www.example.com.")
        if values["default_email"]:
            try:
                clean_email(values["default_email"])
            except ChatInputError:
                errors["default_email"] = _("Enter a valid email address.")
        import re

        if not re.fullmatch(r"#[0-9a-fA-F]{6}", values["color"]):
            errors["color"] = _("Choose a colour.")
        if values["corner"] not in svc.CORNERS:
            errors["corner"] = _("Choose a position.")
        values["offset_x"] = _int(f, "offset_x", 0, 1000, errors, cfg["offset_x"])
        values["offset_y"] = _int(f, "offset_y", 0, 1000, errors, cfg["offset_y"])
        if not errors:
            svc.save_settings(s, {k: values[k] for k in ("company", "website", "default_email", "origins", "color",
                                                         "corner", "offset_x", "offset_y")})
            flash(_("Changes saved."), "success")
            return redirect(url_for("chat.general"))
    from centrala.account import default_region

    from ..settings import regions

    return render_template("chat/settings_general.html", section="general", values=values, errors=errors,
                           snippet=svc.snippet(settings().base_url, cfg["key"]), cfg=cfg,
                           corners=svc.CORNERS, region=default_region(s, settings()),
                           env_region=settings().default_region or "PL", regions=regions.choices(),
                           region_label=regions.label), (400 if errors else 200)


@bp.route("/settings/chat", methods=["GET", "POST"])
@admin_required
def chat_settings():
    s = dbs()
    cfg = svc.get_settings(s)
    errors: dict = {}
    values = dict(cfg)
    tpl = {"title": "", "body": ""}
    if request.method == "POST":
        f = request.form
        if f.get("form") == "template":
            tpl = {"title": f.get("title", "").strip(), "body": f.get("body", "").strip()}
            if not tpl["title"] or len(tpl["title"]) > 100:
                errors["title"] = _("Enter a name of up to 100 characters.")
            if not tpl["body"] or len(tpl["body"]) > MAX_MESSAGE:
                errors["body"] = _("Enter the text (up to %(n)d characters).", n=MAX_MESSAGE)
            if not errors:
                s.add(ChatTemplate(title=tpl["title"], body=tpl["body"]))
                s.commit()
                flash(_("Template saved."), "success")
                return redirect(url_for("chat.chat_settings"))
        else:
            values.update(enabled=bool(f.get("enabled")), ask_data=bool(f.get("ask_data")),
                          force_data=bool(f.get("force_data")))
            values["offer_timeout"] = _int(f, "offer_timeout", 1, 300, errors, cfg["offer_timeout"])
            if not errors:
                svc.save_settings(s, {k: values[k] for k in ("enabled", "ask_data", "force_data", "offer_timeout")})
                flash(_("Changes saved."), "success")
                return redirect(url_for("chat.chat_settings"))
    return render_template("chat/settings_chat.html", section="chat", values=values, errors=errors, tpl=tpl,
                           templates=svc.templates(s)), (400 if errors else 200)


@bp.post("/settings/chat/templates/<int:tid>/delete")
@admin_required
def delete_template(tid: int):
    s = dbs()
    t = s.get(ChatTemplate, tid) or abort(404)
    s.delete(t)
    s.commit()
    flash(_("Template deleted."), "success")
    return redirect(url_for("chat.chat_settings"))


@bp.route("/settings/triggers", methods=["GET", "POST"])
@admin_required
def triggers():
    s = dbs()
    cfg = svc.get_settings(s)
    trig = {lang: dict((cfg["triggers"] or {}).get(lang) or {"message": "", "delay": 15}) for lang in ("pl", "en")}
    enabled = bool(cfg["triggers_enabled"])
    errors: dict = {}
    if request.method == "POST":
        f = request.form
        enabled = bool(f.get("triggers_enabled"))
        for lang in ("pl", "en"):
            msg, delay = f.get(f"{lang}_message", "").strip(), f.get(f"{lang}_delay", "15")
            trig[lang] = {"message": msg, "delay": delay}
            if not msg:
                trig[lang] = {"message": "", "delay": delay}
                continue
            try:
                m, d = clean_trigger(msg, delay)
                trig[lang] = {"message": m, "delay": d}
            except ChatInputError as exc:
                errors[f"{lang}_{exc.field}"] = (_("Up to %(n)d characters.", n=MAX_TRIGGER) if exc.code == "too_long"
                                                 else _("Enter a number of seconds from 0 to 3600."))
        if not errors:
            svc.save_settings(s, {"triggers_enabled": enabled,
                                  "triggers": {k: v for k, v in trig.items() if v["message"]}})
            flash(_("Changes saved."), "success")
            return redirect(url_for("chat.triggers"))
    return render_template("chat/settings_triggers.html", section="triggers", trig=trig, enabled=enabled,
                           errors=errors, max_len=MAX_TRIGGER), (400 if errors else 200)
