"""Who may change what somebody added (files, folders, tasks, contact imports): one rule each,
used by the panel routes and their API twins alike.  ``user`` is anything with ``id`` and
``is_admin`` (the domain never sees an ORM object's other fields)."""
from __future__ import annotations


def owner_or_admin(user, owner_id: int | None) -> bool:
    """The person who added it, or an administrator; nobody else (an item whose owner was
    deleted belongs to the administrators)."""
    return bool(user.is_admin) or (owner_id is not None and owner_id == user.id)


def may_edit_task(user, created_by: int | None, assignee_id: int | None) -> bool:
    """Administrators, whoever created the task and whoever it is assigned to."""
    return owner_or_admin(user, created_by) or owner_or_admin(user, assignee_id)


def may_delete_task(user, created_by: int | None) -> bool:
    return owner_or_admin(user, created_by)
