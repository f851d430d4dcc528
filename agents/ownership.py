"""Who may act on what a user added (an upload, a file, a contact import): the person who added
it, or an administrator.  Something whose author's account is gone is left to administrators."""
from __future__ import annotations


def may_manage(user_id: int | None, is_admin: bool, owner_id: int | None) -> bool:
    return bool(is_admin) or (owner_id is not None and user_id is not None and owner_id == user_id)
