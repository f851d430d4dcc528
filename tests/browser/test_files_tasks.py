"""Files (FIL-1, FIL-2) and Tasks (TSK-1, TSK-2) in a real browser: headless Debian Chromium
against the live server, with the real Socket.IO connection for the task badge.

Screenshots land in ``screenshots/`` (git-ignored) for a visual review.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import log_in

pytestmark = [pytest.mark.db, pytest.mark.browser]

SHOTS = Path(__file__).resolve().parents[2] / "screenshots"
T = 5000


def test_files_tab_upload_folder_double_click_breadcrumbs(make_user, new_context, tmp_path):
    make_user("adam@example.com", name="Adam Kowalski")
    page = log_in(new_context().new_page(), "adam@example.com")
    page.click(".tabs >> text=Files")
    expect(page).to_have_url(re.compile(r"/files$"), timeout=T)
    expect(page.locator("#quota")).to_contain_text("You are using 0 B of 17 GB.")
    expect(page.locator(".empty-title")).to_have_text("This folder is empty")

    # a folder, then into it with a double click
    page.fill("#folder-name", "Umowy")
    page.click("#folder-form button[type=submit]")
    expect(page.locator(".alert-success")).to_contain_text("Folder “Umowy” created.", timeout=T)
    row = page.locator('.file-row[data-kind=folder][data-name="Umowy"]')
    row.locator(".file-name").dblclick()
    expect(page).to_have_url(re.compile(r"/files\?folder=\d+$"), timeout=T)
    expect(page.locator("#breadcrumbs a")).to_have_text(["Files", "Umowy"])

    # picking files uploads them at once
    doc = tmp_path / "cennik 2026.txt"
    doc.write_text("Cennik: 100 zł\n", encoding="utf-8")
    page.set_input_files("#file-input", str(doc))
    expect(page.locator(".alert-success")).to_contain_text("Uploaded: cennik 2026.txt", timeout=T)
    file_row = page.locator('.file-row[data-kind=file][data-name="cennik 2026.txt"]')
    expect(file_row).to_be_visible()

    # files dropped on the card are uploaded too
    dt = page.evaluate_handle("""() => { const dt = new DataTransfer();
        dt.items.add(new File(['dropped'], 'dropped.txt', {type: 'text/plain'})); return dt; }""")
    page.dispatch_event(".files-card", "drop", {"dataTransfer": dt})
    expect(page.locator(".alert-success")).to_contain_text("Uploaded: dropped.txt", timeout=T)
    expect(page.locator(".file-row[data-kind=file]")).to_have_count(2)

    # one click: the details panel
    file_row.locator("td").nth(2).click()
    expect(page.locator("#details-name")).to_have_text("cennik 2026.txt")
    expect(page.locator("#details-type")).to_have_text("text/plain")
    expect(page.locator("#details-size")).to_have_text("16 B")
    expect(page.locator("#details-who")).to_have_text("Adam Kowalski")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "files-folder.png"), full_page=True)

    # renaming from the details panel
    page.fill("#rename-name", "cennik 2027.txt")
    page.click("#rename-form button[type=submit]")
    expect(page.locator(".alert-success")).to_contain_text("Renamed “cennik 2026.txt” to “cennik 2027.txt”.", timeout=T)
    file_row = page.locator('.file-row[data-kind=file][data-name="cennik 2027.txt"]')

    # a double click opens the file in a new tab
    with page.context.expect_page() as opened:
        file_row.locator(".file-name").dblclick()
    tab = opened.value
    tab.wait_for_load_state()
    assert "Cennik: 100 zł" in tab.content()
    tab.close()

    # a file over the limit is refused in the page before it is sent
    # (the server refuses it too: tests/test_files.py)
    page.evaluate("document.getElementById('upload-form').dataset.max = '4'")
    page.set_input_files("#file-input", str(doc))
    expect(page.locator("#upload-error")).to_contain_text("is too large", timeout=T)

    # the breadcrumb leads back; search finds the file in its folder
    page.click("#breadcrumbs >> text=Files")
    expect(page).to_have_url(re.compile(r"/files$"), timeout=T)
    expect(page.locator(".file-row")).to_have_count(1)
    page.fill("#files-q", "CENNIK")
    page.press("#files-q", "Enter")
    expect(page.locator('.file-row[data-kind=file]')).to_have_count(1, timeout=T)
    expect(page.locator(".file-row .file-name")).to_contain_text("Umowy")
    page.goto("/files")
    page.locator(".file-row").first.click()
    page.screenshot(path=str(SHOTS / "files.png"), full_page=True)


def test_create_task_and_the_assignees_badge_goes_up_live(make_user, new_context):
    make_user("adam@example.com", name="Adam Kowalski")
    make_user("ewa@example.com", name="Ewa Nowak")
    ewa = log_in(new_context().new_page(), "ewa@example.com")
    expect(ewa.locator("#badge-tasks")).to_be_hidden()

    adam = log_in(new_context().new_page(), "adam@example.com")
    adam.click(".tabs >> text=Tasks")
    expect(adam).to_have_url(re.compile(r"/tasks$"), timeout=T)
    expect(adam.locator(".empty-title")).to_have_text("No tasks for you")
    adam.click("#new-task")
    expect(adam.locator("h1")).to_have_text("New task", timeout=T)
    adam.fill("#title", "Raport dla Pani Iwonki")
    adam.fill("#due", "2030-04-01T16:25")
    adam.select_option("#assignee_id", label="Ewa Nowak")
    adam.select_option("#priority", "urgent")
    adam.fill("#description", "Numer dowodu")
    adam.screenshot(path=str(SHOTS / "task-new.png"), full_page=True)
    adam.click("#save-task")
    expect(adam.locator("#task-title")).to_have_text("Raport dla Pani Iwonki", timeout=T)
    expect(adam.locator("#task-assignee")).to_have_text("Ewa Nowak")
    # the due time is shown in the browser's own zone, as typed
    expect(adam.locator("#task-due time")).to_contain_text("16:25")
    adam.screenshot(path=str(SHOTS / "task-view.png"), full_page=True)

    # Ewa's badge and drawer, without reloading
    expect(ewa.locator("#badge-tasks")).to_have_text("1", timeout=T)
    expect(ewa.locator("#badge-incoming")).to_have_text("1", timeout=T)
    ewa.click("#drawer-toggle")
    # in the assignee's saved language (Polish when she never chose one, like other drawer items)
    expect(ewa.locator("#drawer-list .item-title")).to_have_text(["Nowe zadanie: Raport dla Pani Iwonki"])
    ewa.click("#drawer-list [data-action=answer]")
    expect(ewa).to_have_url(re.compile(r"/tasks/\d+$"), timeout=T)
    ewa.click(".status-switch button[value=done]")
    expect(ewa.locator("#badge-tasks")).to_be_hidden(timeout=T)
    ewa.goto("/tasks?list=all")
    expect(ewa.locator("tr.task-done .task-title")).to_have_text("Raport dla Pani Iwonki")
    ewa.screenshot(path=str(SHOTS / "tasks.png"), full_page=True)


def test_move_to_with_the_keyboard_and_by_dragging(make_user, new_context, database, web_settings):
    """FIL-1: Move to… walks the folders in a dialog (keyboard only here); a row dragged onto a
    folder or onto the path moves too; a folder is never offered as a place inside itself."""
    import io

    from centrala import files as store

    uid = make_user("adam@example.com", name="Adam Kowalski")
    limits = store.Limits.from_settings(web_settings)
    with database.session() as s:
        umowy = store.create_folder(s, "Umowy", None, uid)
        archiwum = store.create_folder(s, "Archiwum", None, uid)
        store.create_folder(s, "2025", archiwum.id, uid)
        for name in ("cennik.txt", "umowa.pdf"):
            store.store(s, web_settings.files_dir, io.BytesIO(b"x"), name, None, uid, limits)
        ids = {"umowy": umowy.id, "archiwum": archiwum.id}
    page = log_in(new_context().new_page(), "adam@example.com")
    page.goto("/files")

    # select the file, open Move to…: it starts where the file is
    page.locator('.file-row[data-name="cennik.txt"] td').nth(2).click()
    page.click("#details-move")
    dialog = page.locator("#move-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#move-title")).to_have_text("Move “cennik.txt” to…")
    expect(page.locator("#move-path button")).to_have_text(["Files"])
    expect(page.locator("#move-note")).to_have_text("It is in this folder now.")
    expect(page.locator("#move-submit")).to_be_disabled()
    # keyboard only: the first folder has the focus; arrows walk, Enter opens, Backspace goes up
    expect(page.locator("#move-folders button")).to_have_text(["Archiwum›", "Umowy›"])
    expect(page.locator("#move-folders button").first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#move-path button")).to_have_text(["Files", "Archiwum"], timeout=T)
    expect(page.locator("#move-folders button").first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#move-path button")).to_have_text(["Files", "Archiwum", "2025"], timeout=T)
    expect(page.locator("#move-empty")).to_be_visible()
    expect(page.locator("#move-submit")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    expect(page.locator("#move-path button").last).to_be_focused()
    page.keyboard.press("Backspace")
    expect(page.locator("#move-path button")).to_have_text(["Files", "Archiwum"], timeout=T)
    expect(page.locator("#move-folders button").first).to_be_focused()
    page.screenshot(path=str(SHOTS / "files-move-to.png"))
    page.keyboard.press("Enter")
    expect(page.locator("#move-path button")).to_have_text(["Files", "Archiwum", "2025"], timeout=T)
    expect(page.locator("#move-submit")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".alert-success")).to_have_text("Moved “cennik.txt” to “2025”.", timeout=T)
    expect(page.locator('.file-row[data-name="cennik.txt"]')).to_have_count(0)

    # a folder cannot be picked as its own target; Escape closes the dialog
    page.locator('.file-row[data-name="Archiwum"]').focus()
    page.click("#details-move")
    expect(page.locator("#move-folders button:disabled")).to_have_text("Archiwum(being moved)")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # drag a file onto a folder row, then a folder onto a folder, then back out via the path
    page.drag_and_drop('.file-row[data-name="umowa.pdf"] .file-name', '.file-row[data-name="Umowy"] .file-name')
    expect(page.locator(".alert-success")).to_have_text("Moved “umowa.pdf” to “Umowy”.", timeout=T)
    page.drag_and_drop('.file-row[data-name="Umowy"] .file-name', '.file-row[data-name="Archiwum"] .file-name')
    expect(page.locator(".alert-success")).to_have_text("Moved “Umowy” to “Archiwum”.", timeout=T)
    page.goto(f"/files?folder={ids['archiwum']}")
    page.drag_and_drop('.file-row[data-name="Umowy"] .file-name', '#breadcrumbs a[data-drop-folder=""]')
    expect(page.locator(".alert-success")).to_have_text("Moved “Umowy” to “Files”.", timeout=T)
    with database.session() as s:
        from centrala.models_files import Folder, StoredFile
        from sqlalchemy import select

        assert s.get(Folder, ids["umowy"]).parent_id is None
        assert s.scalar(select(StoredFile.folder_id).where(StoredFile.name == "umowa.pdf")) == ids["umowy"]
