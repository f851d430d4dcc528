"""Render Asterisk configuration from ``asterisk-conf/`` and ``dialplan/`` templates plus
database state into ``<data dir>/asterisk/etc``.  Files are written only when their content
changes, so a reload after rendering touches only what really changed.
"""
from __future__ import annotations

import functools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from centrala.config import Settings
from centrala.prompts import DEFAULT_MOH_DIR, PromptPlan, plan_from_db

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [REPO_ROOT / "asterisk-conf", REPO_ROOT / "dialplan"]
ARI_APP = "centrala"
QUEUE = "centrala-inbound"

# Modules Centrala never uses: hardware channels, other VoIP stacks, external databases and
# services.  Loading them only costs boot time and log noise.
NOLOAD = [
    "chan_dahdi.so", "chan_iax2.so", "chan_mgcp.so", "chan_skinny.so", "chan_unistim.so",
    "chan_mobile.so", "chan_ooh323.so", "chan_motif.so", "chan_console.so", "chan_alsa.so",
    "chan_websocket.so",
    "res_config_mysql.so", "res_config_odbc.so", "res_config_pgsql.so", "res_config_ldap.so",
    "res_config_sqlite3.so", "res_odbc.so", "res_odbc_transaction.so", "res_corosync.so",
    "cdr_pgsql.so", "cdr_odbc.so", "cdr_adaptive_odbc.so", "cdr_tds.so", "cdr_radius.so",
    "cdr_sqlite3_custom.so", "cdr_beanstalkd.so", "cdr_custom.so", "cdr_manager.so", "cdr_csv.so",
    "cel_pgsql.so", "cel_odbc.so", "cel_tds.so", "cel_radius.so", "cel_sqlite3_custom.so",
    "cel_beanstalkd.so", "cel_custom.so", "cel_manager.so",
    "res_hep.so", "res_hep_pjsip.so", "res_hep_rtcp.so", "res_snmp.so", "res_xmpp.so",
    "res_calendar.so", "res_calendar_caldav.so", "res_calendar_ews.so", "res_calendar_exchange.so",
    "res_calendar_icalendar.so", "res_phoneprov.so", "res_pjsip_phoneprov_provider.so",
    "res_smdi.so", "res_fax.so", "res_fax_spandsp.so", "res_prometheus.so", "res_statsd.so",
    "res_aeap.so", "res_speech_aeap.so", "res_pjsip_config_wizard.so", "res_geolocation.so",
    "pbx_lua.so", "pbx_ael.so", "pbx_dundi.so", "pbx_realtime.so", "app_voicemail.so",
    "app_voicemail_imap.so", "app_voicemail_odbc.so", "app_minivm.so", "app_festival.so",
    "app_meetme.so", "app_jack.so", "app_alarmreceiver.so", "app_adsiprog.so", "app_getcpeid.so",
    "app_agent_pool.so", "app_amd.so", "app_confbridge.so", "app_page.so", "app_followme.so",
    "res_parking.so", "res_pjsip_notify.so", "res_resolver_unbound.so", "res_stun_monitor.so",
    "res_pjsip_geolocation.so", "res_clialiases.so", "res_http_media_cache.so",
    "res_adsi.so", "func_odbc.so", "res_ael_share.so", "res_pjsip_stir_shaken.so", "res_stir_shaken.so",
]


@dataclass
class RenderPaths:
    etc_dir: Path
    run_dir: Path
    log_dir: Path
    lib_dir: Path
    spool_dir: Path

    @classmethod
    def for_settings(cls, settings: Settings) -> "RenderPaths":
        base = settings.asterisk_dir
        return cls(base / "etc", base / "run", base / "log", base / "lib", base / "spool")

    def make(self) -> None:
        for p in (self.etc_dir, self.run_dir, self.log_dir, self.lib_dir, self.lib_dir / "keys",
                  self.spool_dir, self.spool_dir / "recording"):
            p.mkdir(parents=True, exist_ok=True)

    @property
    def asterisk_conf(self) -> Path:
        return self.etc_dir / "asterisk.conf"


@functools.lru_cache(maxsize=1)
def _environment() -> Environment:
    """One per process: Jinja compiles each template once (and again only when its file changes),
    not on every render — the controller re-renders every sync interval."""
    return Environment(loader=FileSystemLoader([str(d) for d in TEMPLATE_DIRS]),
                       undefined=StrictUndefined, keep_trailing_newline=True,
                       trim_blocks=False, lstrip_blocks=False)


def prompt_context(plan: PromptPlan | None = None) -> dict:
    """Template variables for the voice prompts (VOI-4).

    ``welcome_prompt``/``answering_prompt``: a Playback()/ARI ``sound:`` argument (an absolute
    path without extension, or a stock sound name), or None when Off.  ``moh_mode``,
    ``moh_directory``, ``moh_entries``: the ``default`` music-on-hold class (custom files are
    listed one by one, mode=playlist).  ``queue_options``: ``r`` (ringing instead of music)
    when hold music is Off."""
    plan = plan or PromptPlan.initial()
    custom = plan.hold_mode == "custom"
    return {
        "welcome_prompt": plan.welcome, "answering_prompt": plan.answering,
        "hold_mode": plan.hold_mode,
        "moh_mode": "playlist" if custom else "files",
        "moh_directory": DEFAULT_MOH_DIR, "moh_entries": list(plan.hold_files) if custom else [],
        # t: the agent may transfer the caller (the attended transfer feature needs it)
        "queue_options": "tr" if plan.hold_mode == "off" else "t",
    }


def template_context(settings: Settings, mod_dir: str, trunks: list | None = None,
                     agents: list | None = None, prompts: PromptPlan | None = None,
                     outbound: dict | None = None) -> dict:
    paths = RenderPaths.for_settings(settings)
    secrets = settings.secrets
    return {
        **prompt_context(prompts),
        "etc_dir": paths.etc_dir, "run_dir": paths.run_dir, "log_dir": paths.log_dir,
        "lib_dir": paths.lib_dir, "spool_dir": paths.spool_dir, "mod_dir": mod_dir,
        "ami_port": settings.ami_port, "ami_user": secrets.ami_user,
        "ami_password": secrets.ami_password, "ari_port": settings.ari_port,
        "ari_user": secrets.ari_user, "ari_password": secrets.ari_password,
        "ari_app": ARI_APP, "sip_host": settings.sip_host, "sip_port": settings.sip_port,
        "rtp_start": settings.rtp_start, "rtp_end": settings.rtp_end,
        "tone_country": "pl", "noload": NOLOAD, "trunks": trunks or [], "agents": agents or [],
        "queue": QUEUE, "ring_timeout": settings.ring_timeout, "wrapup_seconds": settings.wrapup_seconds,
        "queue_strategy": settings.queue_strategy,
        "outbound": outbound, "record_calls": settings.record_calls, "calls_dir": settings.recordings_dir / "calls",
    }


def render(settings: Settings, mod_dir: str, trunks: list | None = None, agents: list | None = None,
           prompts: PromptPlan | None = None, outbound: dict | None = None) -> list[Path]:
    """Render every template; return the files whose content changed."""
    paths = RenderPaths.for_settings(settings)
    paths.make()
    (settings.recordings_dir / "calls").mkdir(parents=True, exist_ok=True)
    env = _environment()
    ctx = template_context(settings, mod_dir, trunks, agents, prompts, outbound)
    changed = []
    for name in sorted(env.list_templates(filter_func=lambda n: n.endswith(".conf.j2"))):
        target = paths.etc_dir / name[:-len(".j2")]
        content = env.get_template(name).render(**ctx)
        if target.exists() and target.read_text() == content:
            continue
        # a temp file of its own: the controller and `pbx reload` may render at the same time
        fd, tmp = tempfile.mkstemp(dir=paths.etc_dir, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "w") as fh:   # mkstemp: mode 0600
            fh.write(content)
        os.replace(tmp, target)
        changed.append(target)
    return changed


def current_module_dir(settings: Settings) -> str | None:
    """The module directory the running configuration was rendered with."""
    import re

    conf = RenderPaths.for_settings(settings).asterisk_conf
    if not conf.exists():
        return None
    m = re.search(r"^astmoddir => (.+)$", conf.read_text(), re.M)
    return m.group(1).strip() if m else None


def configures_registrations(settings: Settings) -> bool:
    """Whether the rendered pjsip.conf asks Asterisk to register at a carrier (a trunk with
    "register" on): without one there is no registration state to read."""
    import re

    conf = RenderPaths.for_settings(settings).etc_dir / "pjsip.conf"
    return conf.exists() and re.search(r"^type = registration$", conf.read_text(), re.M) is not None


def agents_from_db(db) -> list:
    """Active users with a SIP account: each becomes a PJSIP endpoint for a softphone."""
    from sqlalchemy import select

    from centrala.models import User

    with db.session() as s:
        return list(s.scalars(select(User).where(User.active.is_(True), User.sip_username.is_not(None))
                              .order_by(User.id)))


class _Opened:
    """A row whose one encrypted column reads as plain text: what the 0600 pjsip.conf needs."""

    def __init__(self, row, column: str, plain: str | None):
        self._row, self._column, self._plain = row, column, plain

    def __getattr__(self, name):
        return self._plain if name == self._column else getattr(self._row, name)


def opened(rows: list, column: str, box) -> list:
    """The rows with ``column`` decrypted (SIP and trunk passwords are Fernet tokens at rest)."""
    return [_Opened(r, column, box.open(getattr(r, column))) for r in rows]


def render_from_db(settings: Settings, mod_dir: str, db) -> list[Path]:
    from centrala.account import effective
    from centrala.secretbox import SecretBox

    settings = effective(settings, db)  # ring timeout, wrap-up, recording as set in the panel
    box = SecretBox.for_settings(settings)
    return render(settings, mod_dir, opened(trunks_from_db(db), "password", box),
                  opened(agents_from_db(db), "sip_password", box),
                  plan_from_db(db, settings.prompts_dir), outbound_from_db(db))


def outbound_from_db(db) -> dict | None:
    """The company's first number and its trunk: caller id and route for transfers to numbers."""
    from sqlalchemy import select

    from centrala.models import Number, Trunk

    with db.session() as s:
        row = s.execute(select(Number.number, Trunk.name).join(Trunk, Trunk.id == Number.trunk_id)
                        .where(Number.enabled.is_(True), Trunk.enabled.is_(True)).order_by(Number.id)).first()
    return {"number": row[0], "trunk": row[1]} if row else None


def trunks_from_db(db) -> list:
    from sqlalchemy import select

    from centrala.models import Trunk

    with db.session() as s:
        return list(s.scalars(select(Trunk).where(Trunk.enabled.is_(True)).order_by(Trunk.name)))
