"""Settings from ``CENTRALA_*`` environment variables and an optional TOML file.

Precedence: environment variable > config file (``CENTRALA_CONFIG`` or
``<data dir>/centrala.toml``) > default.  Every setting is documented in the README's
configuration reference; keep the two in step.
"""
from __future__ import annotations

import base64
import dataclasses
import json
import os
import secrets as _secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "CENTRALA_"


def _int(value) -> int:
    return int(str(value).strip())


def _bool(value) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _private(path: Path, mode: int) -> None:
    """chmod what we own; a path owned by someone else (a mounted volume) is left as it is."""
    try:
        os.chmod(path, mode)
    except PermissionError:
        import logging

        logging.getLogger(__name__).warning("cannot make %s private (mode %o): not its owner", path, mode)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("./var")
    database_url: str = ""            # default: sqlite:///<data_dir>/centrala.db
    http_host: str = "127.0.0.1"
    http_port: int = 5000
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    rtp_start: int = 10000
    rtp_end: int = 20000
    ami_port: int = 5038
    ari_port: int = 8088
    redis_url: str = ""               # empty: one process, in-memory event fan-out
    asterisk_root: Path = Path("/var/cache/centrala/asterisk-root")
    asterisk_suite: str = "sid"
    debian_mirror: str = ""           # empty: read from the machine's apt sources
    admin_email: str = "admin@centrala.local"
    health_stale_seconds: float = 6.0
    log_level: str = "INFO"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_tls: str = "none"            # none | starttls | ssl
    mail_from: str = "Centrala <centrala@localhost>"
    public_url: str = ""              # base of links in emails; default http://<http_host>:<http_port>
    user_limit: int = 10              # licence limit shown as "N/limit"
    reset_token_hours: float = 1.0
    invite_token_hours: float = 72.0
    login_attempts: int = 5           # failed logins per account + address pair and minute before 429
    login_address_attempts: int = 20  # failed logins per address (any accounts) and minute
    login_account_attempts: int = 50  # failed logins per account (any addresses) in 15 minutes
    trusted_proxies: str = ""         # reverse proxies' addresses/CIDRs whose X-Forwarded-For is read
    presence_grace_seconds: float = 60.0  # all panels gone this long -> Offline
    ring_timeout: int = 30            # seconds an agent's phone rings before the next agent (INB-3)
    wrapup_seconds: int = 0           # pause after a call before the next one is offered (BEY-4)
    queue_strategy: str = "rrmemory"  # app_queue strategy: rrmemory (fair rotation) or linear
    voicemail_max_seconds: int = 120  # longest message the answering machine records (VOI-3)
    record_calls: bool = False        # record every answered call (VOI-5), account-wide
    default_region: str = "PL"        # phone numbers without a country code are read in this region
    sip_public_host: str = ""         # the SIP server name shown to agents; default sip_host
    timezone: str = "Europe/Warsaw"   # business hours of numbers are read in this zone (BEY-5)
    voice_inbound: bool = True        # inbound calls reach agents (VOI-6); off: answering machine
    voice_outbound: bool = True       # click-to-call allowed (VOI-6)
    files_max_upload_mb: int = 25     # largest single file in Files / task attachments (FIL-1)
    files_quota_mb: int = 17408       # storage quota of Files, all users together (FIL-2; 17 GB)
    mail_ca_file: str = ""            # extra CA bundle trusted for mailboxes' IMAP/SMTP (a company CA)
    mail_worker: bool = True          # `centrala run` receives mail itself; off when `centrala mail worker` does
    mail_idle_seconds: float = 1440.0  # IMAP IDLE re-issued after this long (servers drop it at 29-30 min)
    mail_poll_seconds: float = 60.0   # how often a server without IDLE is asked for new mail
    mail_max_part_mb: int = 25        # largest attachment kept of a received email

    _types = {
        "http_port": _int, "sip_port": _int, "rtp_start": _int, "rtp_end": _int,
        "ami_port": _int, "ari_port": _int, "health_stale_seconds": float, "smtp_port": _int,
        "user_limit": _int, "reset_token_hours": float, "invite_token_hours": float,
        "login_attempts": _int, "login_address_attempts": _int, "login_account_attempts": _int,
        "presence_grace_seconds": float, "ring_timeout": _int,
        "wrapup_seconds": _int, "voicemail_max_seconds": _int, "record_calls": _bool,
        "voice_inbound": _bool, "voice_outbound": _bool,
        "data_dir": Path, "asterisk_root": Path,
        "files_max_upload_mb": _int, "files_quota_mb": _int,
        "mail_worker": _bool, "mail_idle_seconds": float, "mail_poll_seconds": float, "mail_max_part_mb": _int,
    }

    @classmethod
    def load(cls, environ: dict | None = None, **overrides) -> "Settings":
        env = dict(os.environ if environ is None else environ)
        values: dict = {}
        data_dir = Path(overrides.get("data_dir") or env.get(PREFIX + "DATA_DIR") or cls.data_dir)
        config_file = env.get(PREFIX + "CONFIG") or str(data_dir / "centrala.toml")
        if Path(config_file).is_file():
            with open(config_file, "rb") as fh:
                values.update({k.lower(): v for k, v in tomllib.load(fh).items()})
        for f in dataclasses.fields(cls):
            if f.name.startswith("_"):
                continue
            key = PREFIX + f.name.upper()
            if key in env:
                values[f.name] = env[key]
        values.update({k: v for k, v in overrides.items() if v is not None})
        converted = {}
        for name, value in values.items():
            if name not in {f.name for f in dataclasses.fields(cls)}:
                raise ValueError(f"unknown setting {name!r} in configuration")
            conv = cls._types.get(name, str)
            converted[name] = conv(value)
        settings = cls(**converted)
        return dataclasses.replace(settings, data_dir=settings.data_dir.resolve())

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.http_host}:{self.http_port}").rstrip("/")

    # -- derived paths -----------------------------------------------------------------
    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'centrala.db'}"

    @property
    def asterisk_dir(self) -> Path:
        return self.data_dir / "asterisk"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def prompts_dir(self) -> Path:
        return self.data_dir / "prompts"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def avatars_dir(self) -> Path:
        return self.data_dir / "uploads" / "avatars"

    @property
    def files_dir(self) -> Path:
        """Bytes of Files (FIL-1), one per stored random name; never a user-chosen path."""
        return self.data_dir / "files"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def ensure_dirs(self) -> None:
        """Create the data dir's directories, private to the service's user (0700); the umask
        set here (0077) makes every later file in it (database, uploads, secrets) 0600."""
        os.umask(0o077)
        for p in (self.data_dir, self.asterisk_dir, self.recordings_dir, self.prompts_dir,
                  self.uploads_dir, self.avatars_dir, self.log_dir, self.files_dir):
            p.mkdir(parents=True, exist_ok=True)
            _private(p, 0o700)
        if self.db_url.startswith("sqlite:///"):   # a database file made before this rule
            db_file = Path(self.db_url[len("sqlite:///"):])
            for f in (db_file, *db_file.parent.glob(db_file.name + "-*")):
                if f.is_file():
                    _private(f, 0o600)

    @property
    def proxy_networks(self) -> list:
        """``trusted_proxies`` parsed: the networks whose X-Forwarded-For is believed."""
        import ipaddress

        return [ipaddress.ip_network(part.strip(), strict=False)
                for part in self.trusted_proxies.replace(";", ",").split(",") if part.strip()]

    @property
    def secrets(self) -> "Secrets":
        return Secrets.load(self.data_dir)


@dataclass(frozen=True)
class Secrets:
    """Secrets generated on first start and kept in ``<data dir>/secrets.json`` (mode 0600)."""
    ami_user: str = "centrala"
    ami_password: str = ""
    ari_user: str = "centrala"
    ari_password: str = ""
    flask_secret_key: str = ""
    fernet_key: str = ""              # encrypts SIP and trunk passwords in the database
    email_id_key: str = ""            # keys our emails' Message-IDs (unforgeable threading)
    extra: dict = field(default_factory=dict)

    @classmethod
    def load(cls, data_dir: Path) -> "Secrets":
        path = Path(data_dir) / "secrets.json"
        data = {}
        if path.exists():
            data = json.loads(path.read_text())
        changed = False
        for name in ("ami_password", "ari_password", "flask_secret_key", "fernet_key", "email_id_key"):
            if not data.get(name):
                # a Fernet key is 32 random bytes in URL-safe base64, like the others
                data[name] = base64.urlsafe_b64encode(_secrets.token_bytes(32)).decode() \
                    if name == "fernet_key" else _secrets.token_urlsafe(32)
                changed = True
        if changed:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(data, fh, indent=2)
            os.replace(tmp, path)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
