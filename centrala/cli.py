"""``centrala`` command line: run, db, pbx, mail, user, trunk."""
from __future__ import annotations

import json
import logging
import signal
import sys

import click

from .config import Settings
from .db import Database


def _settings(ctx) -> Settings:
    return ctx.obj["settings"]


def _fail(message: str) -> None:
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(1)


@click.group()
@click.option("--data-dir", envvar="CENTRALA_DATA_DIR", default=None,
              help="Data directory (default ./var).")
@click.pass_context
def main(ctx, data_dir):
    """Centrala: a self-hosted contact center on Asterisk."""
    try:
        settings = Settings.load(data_dir=data_dir)
    except (ValueError, OSError) as exc:
        _fail(f"bad configuration: {exc}")
    logging.basicConfig(level=getattr(logging, settings.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    logging.getLogger("asyncari").setLevel(logging.WARNING)
    logging.getLogger("asyncswagger11").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    ctx.obj = {"settings": settings}


# -- database --------------------------------------------------------------------------
@main.group()
def db():
    """Database schema."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx):
    """Apply all Alembic migrations."""
    settings = _settings(ctx)
    settings.ensure_dirs()
    Database.for_settings(settings).upgrade()   # 0017 encrypts stored secrets with the data dir's key
    click.echo("database is up to date")


def _open_db(settings: Settings) -> Database:
    settings.ensure_dirs()
    database = Database.for_settings(settings)
    database.upgrade()
    return database


# -- pbx -------------------------------------------------------------------------------
@main.group()
def pbx():
    """The local Asterisk and the pbx controller."""


@pbx.command("prepare")
@click.pass_context
def pbx_prepare(ctx):
    """Make sure an Asterisk is available (build the private root if needed)."""
    from pbx.errors import PbxError
    from pbx.runtime import AsteriskRuntime

    try:
        launcher = AsteriskRuntime(_settings(ctx)).launcher()
    except PbxError as exc:
        _fail(str(exc))
    click.echo(f"using {launcher.description}")


@pbx.command("up")
@click.pass_context
def pbx_up(ctx):
    """Start Asterisk (building its private root on first use); return once fully booted."""
    from pbx.errors import PbxError
    from pbx.runtime import AsteriskRuntime

    settings = _settings(ctx)
    try:
        version = AsteriskRuntime(settings).up(db=_open_db(settings))
    except PbxError as exc:
        _fail(str(exc))
    click.echo(f"Asterisk {version} is up (SIP {settings.sip_host}:{settings.sip_port}, "
               f"AMI 127.0.0.1:{settings.ami_port}, ARI 127.0.0.1:{settings.ari_port})")


@pbx.command("down")
@click.pass_context
def pbx_down(ctx):
    """Stop Asterisk cleanly."""
    from pbx.runtime import AsteriskRuntime

    was_running = AsteriskRuntime(_settings(ctx)).down()
    click.echo("Asterisk stopped" if was_running else "Asterisk was not running")


@pbx.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def pbx_status(ctx, as_json):
    """Show whether Asterisk runs, its version and ports."""
    from pbx.runtime import AsteriskRuntime

    status = AsteriskRuntime(_settings(ctx)).status()
    if as_json:
        click.echo(json.dumps(status, indent=2))
    else:
        click.echo("\n".join(f"{k:8} {v}" for k, v in status.items()))
    sys.exit(0 if status["running"] else 3)


@pbx.command("render")
@click.option("--module-dir", default=None,
              help="Asterisk's module directory (default: that of the Asterisk found locally).")
@click.pass_context
def pbx_render(ctx, module_dir):
    """Render Asterisk's configuration into the data dir (for a separately run Asterisk)."""
    from pbx import render
    from pbx.runtime import AsteriskRuntime

    settings = _settings(ctx)
    database = _open_db(settings)
    mod_dir = module_dir or AsteriskRuntime(settings).launcher().module_dir()
    changed = render.render_from_db(settings, mod_dir, database)
    click.echo(f"rendered {len(changed)} changed file(s) into {settings.asterisk_dir / 'etc'}")


@pbx.command("health")
@click.pass_context
def pbx_health(ctx):
    """Exit 0 when the pbx controller is connected to AMI and ARI (for health checks)."""
    from .pbx_status import health

    settings = _settings(ctx)
    body = health(Database(settings.db_url), settings.health_stale_seconds)
    click.echo(json.dumps(body))
    sys.exit(0 if body["status"] == "ok" else 1)


@pbx.command("controller")
@click.pass_context
def pbx_controller(ctx):
    """Run only the pbx controller (for a scaled-out deployment)."""
    import asyncio

    from agents.events import EventBus
    from pbx.controller import Controller

    settings = _settings(ctx)
    bus = EventBus()
    if settings.redis_url:
        from .eventbridge import RedisBridge

        RedisBridge(bus, settings.redis_url)  # status changes and call requests from web processes
    controller = Controller(settings, _open_db(settings), bus)

    async def _run():
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, controller.request_stop)
        await controller.run()

    asyncio.run(_run())


@main.group()
def mail():
    """Receiving email."""


@mail.command("worker")
@click.pass_context
def mail_worker(ctx):
    """Receive the mailboxes' mail in this process (set CENTRALA_MAIL_WORKER=0 for `centrala run`
    then: one worker per mailbox)."""
    from agents.events import EventBus
    from .emails.worker import run_forever

    settings = _settings(ctx)
    bus = EventBus()
    if settings.redis_url:
        from .eventbridge import RedisBridge

        RedisBridge(bus, settings.redis_url)  # the web processes offer what arrives and fill the drawers
    run_forever(settings, _open_db(settings), bus)


# -- users and trunks ------------------------------------------------------------------
@main.group()
def user():
    """User accounts."""


@user.command("add")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["admin", "agent"]), default="agent", show_default=True)
@click.option("--password", default=None, help="Initial password (default: generated and printed).")
@click.option("--channels", default=None, metavar="LIST",
              help="Channels the user serves, comma-separated (chat,email,voice_in,voice_out,sms,facebook) "
                   "or 'none'.  Default: all, as in the panel and the API.")
@click.pass_context
def user_add(ctx, email, name, role, password, channels):
    """Add a user."""
    from agents.channels import parse_channel_list

    from .users import UserError, create_user, generate_password

    try:
        wanted = None if channels is None else parse_channel_list(channels)
    except ValueError as exc:
        _fail(f"--channels: {exc}")
    database = _open_db(_settings(ctx))
    shown = password or generate_password()
    try:
        with database.session() as s:
            u = create_user(s, email, name, role, shown, channels=wanted)
            served = list(u.channels or [])
    except UserError as exc:
        _fail(str(exc))
    click.echo(f"created {u.role} {u.email}" + ("" if password else f" with password: {shown}"))
    click.echo("channels: " + (", ".join(served) if served else
                               "none (never rung, never offered a chat; change it in Settings / Users)"))


@main.group()
def token():
    """REST API tokens."""


@token.command("create")
@click.option("--email", required=True, help="The user the token acts as.")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
@click.pass_context
def token_create(ctx, email, name):
    """Create an API token and print it (it is not stored in readable form)."""
    from . import audit
    from .tokens import create_api_token
    from .users import by_email

    database = _open_db(_settings(ctx))
    with database.session() as s:
        u = by_email(s, email)
        if u is None or not u.active:
            _fail(f"no active user with email {email}")
        value = create_api_token(s, u, name)
        audit.record(s, audit.TOKEN_CREATED, actor=u, target=u.email, via="cli", name=name)
    click.echo(value)


@main.group()
def sip():
    """Agents' SIP accounts."""


@sip.command("show")
@click.option("--email", required=True)
@click.pass_context
def sip_show(ctx, email):
    """Print the SIP softphone credentials of a user."""
    from .users import by_email, give_sip_account, sip_password

    settings = _settings(ctx)
    database = _open_db(settings)
    with database.session() as s:
        u = by_email(s, email)
        if u is None:
            _fail(f"no user with email {email}")
        give_sip_account(u)
        click.echo(f"server   {settings.sip_public_host or settings.sip_host}\n"
                   f"port     {settings.sip_port}/udp\n"
                   f"username {u.sip_username}\npassword {sip_password(database.secret_box, u)}\n"
                   f"state    {'registered ' + u.sip_contact if u.sip_contact else 'not registered'}")


@main.group()
def trunk():
    """SIP trunks to GSM/TDM gateways and carriers."""


@trunk.command("add")
@click.argument("name")
@click.option("--host", required=True)
@click.option("--port", type=int, default=5060, show_default=True)
@click.option("--username", default=None)
@click.option("--password", default=None)
@click.option("--register", is_flag=True, default=False,
              help="Register at the carrier (HOST:PORT) with --username/--password; calls over the "
                   "registration are identified as this trunk's.")
@click.pass_context
def trunk_add(ctx, name, host, port, username, password, register):
    """Add a trunk; a running Asterisk is reloaded to pick it up."""
    from pbx.runtime import AsteriskRuntime

    from .telephony import TelephonyError, create_trunk

    settings = _settings(ctx)
    database = _open_db(settings)
    try:
        with database.session() as s:
            create_trunk(s, name, host, port, username, password, register=register)
    except TelephonyError as exc:
        _fail(str(exc))
    runtime = AsteriskRuntime(settings)
    if runtime.is_running():
        runtime.reload(db=database)
    click.echo(f"trunk {name} added ({host}:{port}{', registering' if register else ''})")


@main.group()
def number():
    """Company phone numbers (the pool)."""


@number.command("add")
@click.argument("value")
@click.option("--trunk", "trunk_name", required=True, help="Trunk the number is reached through.")
@click.option("--kind", type=click.Choice(["gsm", "tdm", "own"]), default="gsm", show_default=True)
@click.option("--label", default="")
@click.pass_context
def number_add(ctx, value, trunk_name, kind, label):
    """Add a number (stored in E.164); inbound calls to it go to the contact center."""
    from .account import default_region
    from .telephony import TelephonyError, create_number, trunk_by_name

    settings = _settings(ctx)
    database = _open_db(settings)
    try:
        with database.session() as s:
            trunk = trunk_by_name(s, trunk_name)
            if trunk is None:
                _fail(f"no trunk named {trunk_name}; add it with 'centrala trunk add'")
            n = create_number(s, value, trunk, region=default_region(s, settings), kind=kind, label=label)
            e164 = n.number
    except TelephonyError as exc:
        _fail(str(exc))
    click.echo(f"number {e164} added ({kind}, trunk {trunk_name})")


# -- run -------------------------------------------------------------------------------
@main.command("run")
@click.option("--no-asterisk", is_flag=True, help="Do not start Asterisk (use one already running).")
@click.pass_context
def run(ctx, no_asterisk):
    """Start Asterisk (if not up), the pbx controller and the web server (gunicorn).

    SIGTERM or Ctrl-C stops them in order: calls are hung up and recorded, then the
    controller, Asterisk (if started here) and the web stop (see centrala/runner.py)."""
    from pbx.errors import PbxError
    from pbx.runtime import AsteriskRuntime

    from .runner import check_listen, serve
    from .users import ensure_first_admin

    settings = _settings(ctx)
    database = _open_db(settings)
    created = ensure_first_admin(database, settings.admin_email)
    if created:
        admin, password = created
        click.secho("\n  First start: an administrator was created. Note the password now,"
                    " it is not shown again.", fg="yellow")
        click.secho(f"    email:    {admin.email}\n    password: {password}\n", bold=True)
    try:
        check_listen(settings.http_host, settings.http_port)
    except OSError as exc:
        _fail(f"cannot listen on {settings.http_host}:{settings.http_port}: {exc.strerror}")

    runtime = AsteriskRuntime(settings)
    started_asterisk = False
    status = 1
    try:
        if not no_asterisk and not runtime.is_running():
            click.echo("Starting Asterisk (the first start builds its private root; this takes a minute)...")
            try:
                version = runtime.up(db=database)
            except PbxError as exc:
                _fail(str(exc))
            started_asterisk = True
            click.echo(f"Asterisk {version} is up")
        database.dispose()   # the worker process opens its own connections
        status = serve(settings, runtime if started_asterisk else None)
    finally:
        # whatever ended the run (a stop, a worker that failed to boot, an error here), an
        # Asterisk started by this command does not outlive it
        if started_asterisk and runtime.down():
            click.echo("Asterisk stopped.")
        database.dispose()
    click.echo("Stopped." if status == 0 else f"Stopped (status {status}).")
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    main()
