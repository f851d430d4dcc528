"""SIP and trunk passwords encrypted at rest (Fernet, key ``fernet_key`` in ``secrets.json``).

The database holds only Fernet tokens: a copy of ``centrala.db`` or a PostgreSQL dump without
the data dir's ``secrets.json`` reveals no password.  Values are sealed where they are written
(the box travels with the database session, see ``Database(secret_box=…)``) and opened only
where they must be plain: the Asterisk configuration (rendered 0600) and the agent's own SIP
password on My profile (and ``centrala sip show``).
"""
from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

SESSION_KEY = "centrala.secret_box"


class SecretBoxError(RuntimeError):
    pass


class SecretBox:
    def __init__(self, key: str | bytes):
        self._fernet = Fernet(key)

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> "SecretBox":
        from .config import Secrets

        return cls(Secrets.load(Path(data_dir)).fernet_key)

    @classmethod
    def for_settings(cls, settings) -> "SecretBox":
        return cls.for_data_dir(settings.data_dir)

    def seal(self, plain: str | None) -> str | None:
        return None if plain is None else self._fernet.encrypt(plain.encode()).decode()

    def open(self, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretBoxError("a stored secret cannot be decrypted with this data dir's key "
                                 "(secrets.json 'fernet_key' does not belong to this database)") from None


def of_session(session) -> SecretBox:
    """The box of the database a session belongs to (``Database(url, secret_box=…)``)."""
    box = session.info.get(SESSION_KEY)
    if box is None:
        raise SecretBoxError("this database was opened without the data dir's key: "
                             "use Database.for_settings(settings) to store SIP or trunk passwords")
    return box
