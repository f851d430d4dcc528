"""One owner rule for what somebody added (files, folders, tasks, imports)."""
from types import SimpleNamespace

from agents import ownership

ANN = SimpleNamespace(id=1, is_admin=False)
BOB = SimpleNamespace(id=2, is_admin=False)
ADMIN = SimpleNamespace(id=3, is_admin=True)


def test_owner_or_admin():
    assert ownership.owner_or_admin(ANN, 1)
    assert not ownership.owner_or_admin(BOB, 1)
    assert ownership.owner_or_admin(ADMIN, 1)
    assert not ownership.owner_or_admin(ANN, None)      # the owner's account was deleted
    assert ownership.owner_or_admin(ADMIN, None)


def test_tasks():
    assert ownership.may_edit_task(BOB, 1, 2) and ownership.may_edit_task(ANN, 1, 2)
    assert not ownership.may_edit_task(BOB, 1, None)
    assert not ownership.may_delete_task(BOB, 1) and ownership.may_delete_task(ANN, 1)
    assert ownership.may_delete_task(ADMIN, 1)
