"""Task due-date reminders (TSK-1) in a real browser: the Remind field on the task form (with the
browser's own time zone sent along), and the reminder arriving live in the assignee's drawer with
a desktop notification.

Screenshots land in ``screenshots/`` (git-ignored) for a visual review.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from .conftest import log_in

pytestmark = [pytest.mark.db, pytest.mark.browser]

SHOTS = Path(__file__).resolve().parents[2] / "screenshots"
T = 5000
WARSAW = ZoneInfo("Europe/Warsaw")
# the page's desktop notifications, recorded (headless Chromium shows none)
RECORD_NOTIFICATIONS = """
window.__desktop = [];
window.Notification = function (title, options) { window.__desktop.push([title, options && options.body]); };
window.Notification.permission = "granted";
window.Notification.requestPermission = function () { return Promise.resolve("granted"); };
"""


def test_remind_field_and_the_reminder_in_the_assignees_drawer(app, database, make_user, new_context):
    from sqlalchemy import select

    from centrala.models import User
    from centrala.models_tasks import Task
    from web.tasks import sweeper

    make_user("adam@example.com", name="Adam Kowalski")
    ewa_id = make_user("ewa@example.com", name="Ewa Nowak")
    with database.session() as s:
        ewa_user = s.get(User, ewa_id)
        ewa_user.language, ewa_user.status = "en", "online"
    ewa_ctx = new_context(timezone_id="Europe/Warsaw")
    ewa_ctx.add_init_script(RECORD_NOTIFICATIONS)
    ewa = log_in(ewa_ctx.new_page(), "ewa@example.com")

    adam = log_in(new_context(timezone_id="Europe/Warsaw").new_page(), "adam@example.com")
    adam.goto("/tasks/new")
    remind = adam.locator("#remind")
    expect(remind).to_have_value("15m")                    # the default
    expect(adam.locator("#remind-hint [data-when=no-due]")).to_be_visible()
    due_local = (datetime.now(WARSAW) + timedelta(days=1)).replace(hour=16, minute=25, second=0, microsecond=0)
    adam.fill("#title", "Oddzwonić do Pani Iwony")
    adam.fill("#due", due_local.strftime("%Y-%m-%dT%H:%M"))
    expect(adam.locator("#remind-hint [data-when=due]")).to_be_visible()
    expect(adam.locator("#remind-hint [data-when=no-due]")).to_be_hidden()
    adam.select_option("#remind", "1h")
    adam.select_option("#assignee_id", label="Ewa Nowak")
    SHOTS.mkdir(exist_ok=True)
    adam.screenshot(path=str(SHOTS / "task-remind-form.png"), full_page=True)
    adam.click("#save-task")
    expect(adam.locator("#task-title")).to_have_text("Oddzwonić do Pani Iwony", timeout=T)
    expect(adam.locator("#task-reminder")).to_contain_text("1 hour before")
    expect(adam.locator("#task-reminder time")).to_contain_text("15:25")   # in the browser's zone

    with database.session() as s:
        t = s.scalar(select(Task).where(Task.title == "Oddzwonić do Pani Iwony"))
        assert t.time_zone == "Europe/Warsaw" and t.remind == "1h"
        remind_at = t.remind_at.replace(tzinfo=timezone.utc) if t.remind_at.tzinfo is None else t.remind_at
        assert remind_at == due_local.astimezone(timezone.utc) - timedelta(hours=1)
        tid = t.id

    # the moment comes: Ewa's panel gets it live (drawer, badge, toast, desktop notification)
    expect(ewa.locator("#badge-incoming")).to_have_text("1", timeout=T)   # the new-task item
    assert sweeper.sweep(app, remind_at) == [tid]
    title = f"Reminder: Oddzwonić do Pani Iwony, due {due_local.strftime('%Y-%m-%d %H:%M %Z')}"
    expect(ewa.locator("#badge-incoming")).to_have_text("2", timeout=T)
    expect(ewa.locator("#toasts .toast").last).to_have_text(f"New: {title}", timeout=T)
    assert ewa.evaluate("window.__desktop")[-1] == ["Centrala", title]
    ewa.click("#drawer-toggle")
    item = ewa.locator("#drawer-list .item").first
    expect(item.locator(".item-title")).to_have_text(title)
    expect(item.locator(".channel-icon")).to_have_text("Task")
    ewa.screenshot(path=str(SHOTS / "task-reminder-drawer.png"))
    # Answer opens the task
    item.locator("[data-action=answer]").click()
    expect(ewa).to_have_url(re.compile(rf"/tasks/{tid}$"), timeout=T)
    expect(ewa.locator("#task-reminder")).to_contain_text("Sent")
    ewa.screenshot(path=str(SHOTS / "task-reminder-sent.png"), full_page=True)
