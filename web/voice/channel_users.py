"""Settings / Voice / Users (VOI-6, manual §11.2.5 "Użytkownicy uczestniczący w kanale"): who takes
part in inbound calls (rung by the queue) and who may call customers (click-to-call).  The same
channels as on each user's form, seen per channel."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from agents import events
from centrala import audit
from centrala.channels.voice import VOICE
from centrala.models import User

from ..auth.permissions import admin_required
from ..extensions import bus, client_ip, dbs
from .http import bp

VOICE_CHANNELS = VOICE.skills   # voice_in, voice_out (agents/conversation.py)


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def channel_users():
    s = dbs()
    users = list(s.scalars(select(User).where(User.active.is_(True)).order_by(User.name, User.id)))
    if request.method == "POST":
        wanted = {ch: {int(v) for v in request.form.getlist(ch) if v.isdigit()} for ch in VOICE_CHANNELS}
        changed = []
        for u in users:
            channels = [c for c in (u.channels or []) if c not in VOICE_CHANNELS]
            channels += [ch for ch in VOICE_CHANNELS if u.id in wanted[ch]]
            if sorted(channels) != sorted(u.channels or []):
                before = sorted(set(u.channels or []) & set(VOICE_CHANNELS))
                u.channels = channels
                after = sorted(set(channels) & set(VOICE_CHANNELS))
                audit.record(s, audit.USER_UPDATED, actor=s.get(User, current_user.id), target=u.email,
                             ip=client_ip(), voice_channels=f"{','.join(before) or '-'} -> {','.join(after) or '-'}")
                changed.append(u.id)
        s.commit()
        for uid in changed:
            bus().publish(events.USERS_CHANGED, user_id=uid)   # the queue follows at once
        flash(_("Saved. %(n)d user(s) changed.", n=len(changed)) if changed else _("Nothing to change."), "success")
        return redirect(url_for("voice.channel_users"))
    counts = {ch: sum(ch in (u.channels or []) for u in users) for ch in VOICE_CHANNELS}
    return render_template("settings/voice_users.html", section="voice", users=users, counts=counts)
