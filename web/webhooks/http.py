"""Settings / Webhooks (BEY-1, administrators only): list, add, edit, enable/disable, delete,
regenerate the secret (shown in full once), the last deliveries and "Send test" (a ping)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from agents import events
from centrala import audit
from centrala import webhooks as wh
from centrala.models import User
from centrala.models_webhooks import Webhook, WebhookDelivery

from ..auth.permissions import admin_required
from ..extensions import client_ip, dbs
from . import worker

bp = Blueprint("webhooks", __name__, url_prefix="/settings/webhooks")

EVENT_LABELS = {
    events.CONVERSATION_MESSAGE: _l("Message in a conversation (any channel)"),
    events.CONVERSATION_CLOSED: _l("Conversation closed (any channel)"),
    events.CALL_LOGGED: _l("Call logged"),
    events.VOICEMAIL_RECEIVED: _l("Voicemail received"),
    events.CHAT_ACCEPTED: _l("Chat accepted"),
    events.CHAT_CLOSED: _l("Chat closed"),
    events.TASK_CHANGED: _l("Task created, changed or deleted"),
    wh.PING: _l("Test (ping)"),
}
STATUS_LABELS = {"pending": _l("Pending"), "delivered": _l("Delivered"), "failed": _l("Failed")}
RECENT = 20


def _url_message(code: str) -> str:
    return {
        "empty": _("Enter the address to send events to."),
        "too_long": _("The address can be at most %(n)d characters long.", n=wh.MAX_URL),
        "scheme": _("The address must start with http:// or https://."),
        "host": _("Enter a valid web address, e.g. https://example.com/hooks/centrala."),
        "credentials": _("The address must not contain a user name or password; receivers check the signature instead."),
    }[code]


@bp.app_context_processor
def labels():
    return {"webhook_event_labels": EVENT_LABELS, "delivery_status_labels": STATUS_LABELS,
            "webhook_events": wh.EVENTS}


def _get(webhook_id: int) -> Webhook:
    hook = dbs().get(Webhook, webhook_id)
    if hook is None:
        abort(404)
    return hook


def _actor():
    return dbs().get(User, current_user.id)


def _values(form) -> dict:
    return {"url": form.get("url", "").strip(),
            "events": [e for e in form.getlist("events") if e in wh.EVENTS],
            "active": form.get("active") == "1"}


def _validate(values: dict) -> dict:
    errors = {}
    try:
        values["url"] = wh.check_url(values["url"])
    except wh.URLProblem as p:
        errors["url"] = _url_message(p.code)
    if not values["events"]:
        errors["events"] = _("Choose at least one event.")
    return errors


@bp.get("/")
@admin_required
def index():
    s = dbs()
    hooks = s.scalars(select(Webhook).order_by(Webhook.id)).all()
    last = {}
    for h in hooks:
        last[h.id] = s.scalars(select(WebhookDelivery).where(WebhookDelivery.webhook_id == h.id)
                               .order_by(WebhookDelivery.id.desc()).limit(1)).first()
    return render_template("settings/webhooks.html", section="webhooks", hooks=hooks, last=last)


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new():
    values, errors = {"url": "", "events": [], "active": True}, {}
    if request.method == "POST":
        values = _values(request.form)
        values["active"] = True
        errors = _validate(values)
        if not errors:
            s = dbs()
            hook = Webhook(url=values["url"], events=values["events"], secret=wh.new_secret(),
                           secret_revealed=False, active=True, created_by=current_user.id)
            s.add(hook)
            s.flush()
            audit.record(s, "webhook.created", actor=_actor(), target=hook.url, ip=client_ip(),
                         webhook_id=hook.id, events=hook.events)
            s.commit()
            flash(_("The webhook was added. Copy its signing secret now: it is shown only once."), "success")
            return redirect(url_for("webhooks.view", webhook_id=hook.id), 303)
    return render_template("settings/webhook_form.html", section="webhooks", values=values, errors=errors,
                           editing=None), (400 if errors else 200)


@bp.get("/<int:webhook_id>")
@admin_required
def view(webhook_id: int):
    s = dbs()
    hook = _get(webhook_id)
    reveal = None
    if not hook.secret_revealed:   # the first look after creation or regeneration, then masked
        reveal = hook.secret
        hook.secret_revealed = True
        s.commit()
    deliveries = s.scalars(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)
                           .order_by(WebhookDelivery.id.desc()).limit(RECENT)).all()
    total = s.scalar(select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id))
    return render_template("settings/webhook.html", section="webhooks", hook=hook, reveal=reveal,
                           masked=wh.mask(hook.secret), deliveries=deliveries, total=total)


@bp.route("/<int:webhook_id>/edit", methods=["GET", "POST"])
@admin_required
def edit(webhook_id: int):
    hook = _get(webhook_id)
    values = {"url": hook.url, "events": list(hook.events or []), "active": hook.active}
    errors = {}
    if request.method == "POST":
        values = _values(request.form)
        errors = _validate(values)
        if not errors:
            s = dbs()
            hook.url, hook.events, hook.active = values["url"], values["events"], values["active"]
            audit.record(s, "webhook.updated", actor=_actor(), target=hook.url, ip=client_ip(),
                         webhook_id=hook.id, events=hook.events, active=hook.active)
            s.commit()
            flash(_("The webhook was saved."), "success")
            return redirect(url_for("webhooks.view", webhook_id=hook.id), 303)
    return render_template("settings/webhook_form.html", section="webhooks", values=values, errors=errors,
                           editing=hook), (400 if errors else 200)


@bp.post("/<int:webhook_id>/active")
@admin_required
def toggle(webhook_id: int):
    s = dbs()
    hook = _get(webhook_id)
    hook.active = request.form.get("active") == "1"
    audit.record(s, "webhook.updated", actor=_actor(), target=hook.url, ip=client_ip(),
                 webhook_id=hook.id, active=hook.active)
    s.commit()
    flash(_("The webhook is enabled.") if hook.active else
          _("The webhook is disabled. Events are not queued for it until you enable it again."), "success")
    return redirect(request.form.get("next") == "list" and url_for("webhooks.index")
                    or url_for("webhooks.view", webhook_id=hook.id), 303)


@bp.post("/<int:webhook_id>/secret")
@admin_required
def regenerate(webhook_id: int):
    s = dbs()
    hook = _get(webhook_id)
    hook.secret, hook.secret_revealed = wh.new_secret(), False
    audit.record(s, "webhook.secret_regenerated", actor=_actor(), target=hook.url, ip=client_ip(),
                 webhook_id=hook.id)
    s.commit()
    flash(_("A new signing secret was generated; the old one no longer verifies. Copy it now: it is shown only once."), "success")
    return redirect(url_for("webhooks.view", webhook_id=hook.id), 303)


@bp.post("/<int:webhook_id>/test")
@admin_required
def test(webhook_id: int):
    s = dbs()
    hook = _get(webhook_id)
    if not hook.active:
        flash(_("Enable the webhook to send a test."), "error")
        return redirect(url_for("webhooks.view", webhook_id=hook.id), 303)
    worker.queue(s, wh.PING, {"webhook_id": hook.id}, webhook_id=hook.id)
    s.commit()
    flash(_("A test event was queued. Its delivery appears below in a few seconds."), "success")
    return redirect(url_for("webhooks.view", webhook_id=hook.id), 303)


@bp.post("/<int:webhook_id>/delete")
@admin_required
def delete(webhook_id: int):
    s = dbs()
    hook = _get(webhook_id)
    audit.record(s, "webhook.deleted", actor=_actor(), target=hook.url, ip=client_ip(), webhook_id=hook.id)
    s.execute(WebhookDelivery.__table__.delete().where(WebhookDelivery.webhook_id == hook.id))
    s.delete(hook)
    s.commit()
    flash(_("The webhook was deleted."), "success")
    return redirect(url_for("webhooks.index"), 303)
