"""Entry point: `python run_bot.py` runs the bot; subcommands serve operators (replay, migrate, balances, ledger, stats,
audit, the web console and its accounts)."""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from loguru import logger

import handlers  # noqa: F401  (registers commands, jobs, listeners and config sections before any parse)
from bot import config as config_mod
from bot.clock import Clock, ManualClock, OffsetClock, quiet_end, quiet_window
from bot.config import ConfigError, Settings
from bot.dispatch import REGISTRY, Registry

# What only running the bot needs (the pipeline, Jinja, the scheduler, asyncio) is imported where it is used:
# the read-outs start without it.
if TYPE_CHECKING:
    from bot.app import App
    from bot.scheduler import Schedule
    from bot.templating import Renderer

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="配置文件（默认 ./config.toml）")]
DbOpt = Annotated[str | None, typer.Option("--db", help="数据库 URL，优先于 storage.url")]
JsonOpt = Annotated[bool, typer.Option("--json", help="输出 JSON（键名为英文，供程序读取）")]

_LIVE = False  # a live transport ran: the process ends the ordinary way (see main)
_SOURCE: tuple[Path | None, str | None] = (None, None)  # the --config and --db the bot started with (reload)

cli = typer.Typer(add_completion=False, no_args_is_help=False,
                  help="群积分机器人：微信群、企业微信群的社群积分（a points programme for WeChat groups）。"
                       "不带子命令时按 config.toml 运行机器人。")


class _Intercept(logging.Handler):
    """Forward stdlib logging (apscheduler, SQLAlchemy, wechaty) into loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(depth=6, exception=record.exc_info).log(level, record.getMessage())


def setup_logging(default: str = "INFO") -> None:
    logger.remove()
    fmt = ("<green>{time:YYYY-MM-DD HH:mm:ss}</green> <level>{level: <7}</level> "
           "{extra[room]} {extra[member]} <level>{message}</level>")
    logger.configure(extra={"room": "-", "member": "-"})
    logger.add(sys.stderr, level=os.environ.get("LOG_LEVEL", default), format=fmt, backtrace=False, diagnose=False)
    logging.basicConfig(handlers=[_Intercept()], level=logging.WARNING, force=True)


@dataclass
class Runtime:
    settings: Settings
    ledger: Any
    app: App
    schedule: Schedule
    renderer: Renderer
    clock: Clock
    services: Any = None  # storage.store.Storage, what handlers reach as ctx.services


def build(settings: Settings, clock: Clock | None = None, templates: Path | None = None,
          registry: Registry = REGISTRY) -> Runtime:
    """Wire features into one app: the only place that knows both the runtime and the handlers."""
    from bot.app import App
    from bot.templating import Renderer, cache_dir
    from handlers.lib.samples import BASE, SAMPLES
    from storage.db import make_engine
    from storage.store import Storage

    check_jobs(settings, registry)
    renderer = Renderer(templates, cache=cache_dir())
    # each template edited since it last passed is compiled and rendered on its sample data: a broken one stops
    # the start, naming its file and line; an unchanged tree costs reading the files (check-config checks all)
    renderer.check_changed(SAMPLES, BASE)
    tz = settings.bot.tz
    engine = make_engine(settings.storage.url, tz=tz, cache_mb=settings.storage.cache_mb,
                         mmap_mb=settings.storage.mmap_mb)
    st = Storage.open(engine, tz, _policy(settings))  # the schema at head
    clock = clock or Clock(tz)
    if settings.bot.rooms:  # the configured groups are served before anyone speaks in them (scheduled posts)
        known = {room for room, _name in st.presence.rooms(settings.bot.rooms)}
        for room in settings.bot.rooms:
            if room not in known:
                st.presence.see_room(room, "", clock.now())
    if settings.mall is not None:  # the catalogue into the database by sku; stock and sales stay as they are
        for note in st.mall.sync(settings.mall.items, clock.now()):
            logger.warning(note)
    if st.lots is not None and (settled := st.lots.settle(clock.now())):
        logger.info("points expiry: the points {} members held are counted from now", settled)
    schedule = make_schedule(settings, registry)
    app = App(settings, st.store(), st, renderer, clock, registry=registry, schedule_rooms=schedule.rooms())
    return Runtime(settings, st.ledger, app, schedule, renderer, clock, st)


def make_schedule(settings: Settings, registry: Registry = REGISTRY) -> Schedule:
    """Every run the settings ask for: [[schedule]], the follow-ups its jobs bring, the standing jobs."""
    from bot.scheduler import Schedule, follow_ups, standing_jobs

    return Schedule([*settings.schedule, *follow_ups(settings.schedule, registry.followups, settings),
                     *standing_jobs(registry.standing, settings)], settings.bot.tz,
                    quiet=quiet_window(settings.outbox.quiet_hours), deferred=registry.posts)


def check_jobs(settings: Settings, registry: Registry = REGISTRY) -> None:
    """Every [[schedule]] entry names a job some handler registered; ConfigError naming the entry if not."""

    for i, entry in enumerate(settings.schedule):
        if entry.job not in registry.jobs:
            known = ", ".join(sorted(registry.jobs))
            raise ConfigError(f'schedule[{i}].job must be one of {known}, got "{entry.job}"')
    quiet = quiet_window(settings.outbox.quiet_hours)
    for i, entry in enumerate(settings.schedule):
        if quiet is None or entry.job not in registry.followups:
            continue
        # a job with a window (a quiz's answers) runs on time; only its post waits for the quiet hours to end
        from apscheduler.triggers.cron import CronTrigger

        trig, t = CronTrigger.from_crontab(entry.cron, timezone=settings.bot.tz), None
        for _ in range(14):
            t = trig.get_next_fire_time(t, (t + timedelta(minutes=1)) if t else datetime.now(settings.bot.tz))
            if t is None:
                break
            until = quiet_end(t, quiet, settings.bot.tz)
            if until is not None:
                logger.warning("定时任务 schedule[{}]（{}）在 {:%H:%M} 运行，处于免打扰时段 {}：它的消息要等到 {:%H:%M} "
                               "才发出，限时却从 {:%H:%M} 算起；请把它排在免打扰时段之外 "
                               "(schedule[{}] runs inside quiet hours)", i, entry.job, t, settings.outbox.quiet_hours,
                               until, t, i)
                break


def _policy(settings: Settings) -> Any:
    """The points-expiry policy in force (storage.expiry.Policy), or None when points never expire."""
    if settings.expiry is None or settings.expiry.policy == "none":
        return None
    from storage.expiry import Policy

    # refunded points stay at least a week, and never less than members are warned ahead
    return Policy(settings.expiry.policy, settings.expiry.days, settings.bot.tz,
                  refund_days=max(settings.expiry.warn_days, 7))


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def log_timezone(tz: Any) -> None:
    """Log times in the bot's timezone (the days the ledger counts), not the machine's (often UTC)."""
    def patch(record: Any) -> None:
        record["time"] = record["time"].astimezone(tz)

    logger.configure(patcher=patch)


_log_files: dict[str, int] = {}


def log_file(settings: Any) -> None:
    """[log] file: the log also goes to a rotated file (a service's log outlives its terminal)."""
    cfg = settings.log
    if not cfg.file or cfg.file in _log_files:
        return
    path = Path(cfg.file)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = "{time:YYYY-MM-DD HH:mm:ss} {level: <7} {extra[room]} {extra[member]} {message}"
    _log_files[cfg.file] = logger.add(path, level=cfg.level, format=fmt, rotation=f"{cfg.rotate_mb} MB",
                                      retention=cfg.keep, encoding="utf-8", enqueue=False, backtrace=False,
                                      diagnose=False)


def _settings(config: Path | None, db: str | None) -> Settings:
    try:
        settings = config_mod.load(config, db)
        log_timezone(settings.bot.tz)
        log_file(settings)
        return settings
    except ConfigError as exc:
        raise _fail(f"配置错误 (config error) in {config or config_mod.DEFAULT_CONFIG}:\n{exc}") from None


def _runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    from sqlalchemy.exc import OperationalError

    from bot.templating import TemplateProblem
    from storage.schema import UnknownRevision

    try:
        rt = build(settings, clock)
    except ConfigError as exc:
        raise _fail(f"配置错误 (config error):\n{exc}") from None
    except TemplateProblem as exc:
        raise _fail(str(exc)) from None
    except UnknownRevision as exc:
        raise _unknown_revision(exc) from None
    except OperationalError as exc:
        raise _cannot_open(settings, exc) from None
    # what start-up made stays for the whole run: later collections need not walk it (bench/bench_start.py)
    gc.freeze()
    logger.debug("ready")
    return rt


# exit codes of their own: the database must be upgraded first / is from a newer release
EXIT_NEEDS_MIGRATE = 5
EXIT_NEWER_SCHEMA = 6
NEEDS_MIGRATE = "数据库需要升级：先运行 python run_bot.py migrate"


def _cannot_open(settings: Settings, exc: Any) -> typer.Exit:
    return _fail(f"cannot open the database {settings.storage.url}: {exc.orig}\n"
                 "check storage.url in config.toml (or --db), and that the server is running")


def _unknown_revision(exc: Any) -> typer.Exit:
    from storage.schema import head

    return _fail(f"数据库的版本 {exc.current} 不是本程序认识的版本（本程序最高到 {head()}，数据库可能来自更新的版本）：\n"
                 "请用更新的程序运行，或换回与本程序匹配的数据库备份", EXIT_NEWER_SCHEMA)


# -- running ------------------------------------------------------------------------------------


@cli.callback(invoke_without_command=True)
def main(ctx: typer.Context, config: ConfigOpt = None, db: DbOpt = None,
         transport: Annotated[str | None, typer.Option(help="console | replay | wechaty | bridge | wecom")] = None) -> None:
    """按 config.toml 的接入方式运行机器人（默认终端 console）。"""
    setup_logging()
    if ctx.invoked_subcommand is None:
        run(config=config, db=db, transport=transport)


@cli.command()
def run(config: ConfigOpt = None, db: DbOpt = None,
        transport: Annotated[str | None, typer.Option(help="console | replay | wechaty | bridge | wecom")] = None) -> None:
    """运行机器人（不带子命令时也是它）。"""
    global _LIVE, _SOURCE
    settings = _settings(config, db)
    _SOURCE = (config, db)
    kind = transport or settings.transport.kind
    if kind == "replay":
        if not settings.transport.file:
            raise _fail('transport.kind = "replay" needs transport.file, or run: python run_bot.py replay FILE')
        replay(Path(settings.transport.file), config=config, db=db)
        return
    _LIVE = kind in ("console", "wechaty", "bridge", "wecom")
    if kind == "console":
        import asyncio

        asyncio.run(_console(settings))
        return
    if kind == "wechaty":
        _run_wechaty(settings)
        return
    if kind == "bridge":
        _run_bridge(settings)
        return
    if kind == "wecom":
        _run_wecom(settings)
        return
    raise _fail(f'transport "{kind}" is not known; use console, replay, wechaty, bridge or wecom')


def _run_wechaty(settings: Settings) -> None:
    import asyncio

    from bot.supervisor import FatalConnectionError
    from bot.transports.wechaty import WechatyUnavailable, endpoint_and_token, load_wechaty

    endpoint, _token = endpoint_and_token(settings.wechaty)
    if not endpoint:
        raise _fail('transport "wechaty" needs the puppet service\'s address: set [wechaty] endpoint = "host:port" '
                    "in config.toml or WECHATY_PUPPET_SERVICE_ENDPOINT=host:port (and the token in [wechaty] token "
                    "or WECHATY_PUPPET_SERVICE_TOKEN). The bot never asks wechaty's internet discovery service.")
    try:
        load_wechaty(settings.wechaty.cache_dir)  # before anything starts: a Python it cannot run on is said now
    except WechatyUnavailable as exc:
        raise _fail(f"无法使用 wechaty：{exc}", 2) from None
    try:
        asyncio.run(_wechaty(settings))
    except FatalConnectionError as exc:
        raise _fail(f"cannot run on WeChat: {exc}. Check [wechaty] token or WECHATY_PUPPET_SERVICE_TOKEN.", 4) from None


async def _live(settings: Settings, make_transport: Any, budget: Any = None, kind: str = "") -> None:
    """Run the pipeline on a real clock with `make_transport(submit, clock, store, health, parts)`'s run() feeding it.

    Until that ends. The transport reports its state into `health`; [health] serves it on /healthz and alerts
    on an outage (bot.health). `parts`: more routes for a transport that serves HTTP (the bridge), the console's
    when it shares its port.
    """
    import asyncio
    import signal

    from bot.health import Alerts, Health, Webhook
    from bot.outbox import Budget, Outbox, digest_text
    from bot.runner import LiveRunner

    clock = Clock(settings.bot.tz)
    rt = _runtime(settings, clock)
    submit: list[Any] = []
    outboxes: list[Any] = []
    kind = kind or settings.transport.kind
    health = Health(kind, clock=clock, alert_after=settings.health.alert_after,
                    depth=lambda: outboxes[0].pending() if outboxes else 0,
                    counters=lambda: _outbox_counters(outboxes[0]) if outboxes else {})

    def seen(*ev: Any) -> None:
        health.seen()
        submit[0](*ev)

    # [console] on the bridge's own host and port: its routes go into the bridge's app (else it gets a server of its own)
    shared = _console_on_bridge(settings)
    announcer = BotAnnouncer(rt)
    parts = [console_routes(settings, rt.services, clock, announcer)] if shared else []
    transport = make_transport(seen, clock, rt.services.store(), health, parts)
    rt.app.mention_hint = getattr(transport, "mention_hint", "")  # WeCom: members @ the bot in groups
    outbox = Outbox(transport, budget or Budget.from_settings(settings.outbox, settings.bot.tz),
                    digest=digest_text(rt.renderer))
    outboxes.append(outbox)
    hook = os.environ.get("BOT_HEALTH_WEBHOOK", "").strip() or settings.health.webhook
    if hook and not hook.startswith(("https://", "http://")):
        raise _fail("BOT_HEALTH_WEBHOOK must be an http(s) address (a WeCom group robot's webhook)")
    alerts = Alerts(health, name=settings.bot.name, admins=settings.bot.admins,
                    webhook=Webhook(hook) if hook else None, put=outbox.put)
    server = await _health_server(settings, health, kind)
    # several processes on one PostgreSQL database: one leads the scheduler (an advisory lock), the rest stand by
    from storage.leader import Leadership

    lead = Leadership(rt.ledger.engine)
    # a transport that keeps what it accepted (the bridge's inbox) is told what each batch handled
    runner = LiveRunner(rt.app, outbox, rt.schedule, clock, batch_size=settings.storage.batch_size,
                        settle=getattr(transport, "settle", None), leader=lead.held)
    submit.append(runner.submit)
    announcer.attach(runner, outbox)
    if shared:
        _console_warnings(settings)
        logger.info("operator console on the bridge's port: http://{}:{}/console/", settings.bridge.host,
                    settings.bridge.port)
    web = None if shared else await _console_web(settings, rt.services, clock, announcer)
    task = asyncio.create_task(runner.run())
    serving = asyncio.create_task(server.serve()) if server is not None else None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, transport.stop)
    # SIGHUP (or `python run_bot.py reload`): config.toml again, validated as at start, applied between batches
    reloader = Reloader(rt, runner, outbox, alerts, kind, _SOURCE)
    loop.add_signal_handler(signal.SIGHUP, reloader.requested)
    # SIGUSR1 (`python run_bot.py announce`): a 公告 the command left beside the pid file, posted through the outbox
    loop.add_signal_handler(signal.SIGUSR1, lambda: loop.create_task(announce_requested(rt, runner, outbox)))
    pid_file = write_pid_file(settings)
    try:
        await transport.run()
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        loop.remove_signal_handler(signal.SIGUSR1)
        with contextlib.suppress(OSError):
            pid_file.unlink()
        runner.stop()
        await task
        lead.release()
        await alerts.close()  # a pushed-off bot alerts before it exits
        if server is not None and serving is not None:
            server.stop()
            await serving
        await _stop_web(web)
        rt.ledger.engine.dispose()


# -- reload: config.toml again without a restart ----------------------------------------------------------

# what a running bot reads only at start (its connections, database, listening ports, log files, the points
# expiry hooks, the names it answers to): a file that changes any of these is refused, restart to apply it
RESTART_ONLY = ("transport", "storage", "bridge", "wechaty", "wecom", "health", "log", "expiry")
RESTART_ONLY_BOT = ("timezone", "name", "self_id")
PID_FILE = "bot.pid"
STATUS_NAME = "bot.reload"  # bot.reload.json: the last reload's outcome; bot.reload.request.json: who asked
EXIT_RELOAD_REFUSED = 2
EXIT_NO_BOT = 1


def run_dir(url: str) -> Path:
    """Where a running bot keeps its pid file and its last reload's outcome: beside its SQLite file, else data/."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///").split("?", 1)[0]
        if path and path != ":memory:":
            return Path(path).resolve().parent
    return Path("data").resolve()


def write_pid_file(settings: Settings) -> Path:
    folder = run_dir(settings.storage.url)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PID_FILE
    path.write_text(json.dumps({"pid": os.getpid(), "kind": settings.transport.kind}) + "\n", encoding="utf-8")
    logger.info("pid {} written to {} (python run_bot.py reload reloads config.toml)", os.getpid(), path)
    return path


def restart_only(old: Settings, new: Settings) -> list[str]:
    """The settings `new` changes that the running bot cannot take without a restart."""
    changed = [f"[{name}]" for name in RESTART_ONLY if getattr(old, name, None) != getattr(new, name, None)]
    changed += [f"bot.{name}" for name in RESTART_ONLY_BOT if getattr(old.bot, name) != getattr(new.bot, name)]
    return changed


class Reloader:
    """Reads the config file the bot started with again on SIGHUP; swaps the rules only when all of it is valid.

    Validated as the start validates (bot.config, every [[schedule]] job, the templates edited since they last
    passed); a file changing a setting read only at start (RESTART_ONLY) is refused with their names. What is
    swapped, between two batches (LiveRunner.busy): the App's settings and what it derives from them (the
    keyword matcher, admins, served groups, the rooms each schedule entry posts to), the schedule (the live
    loop's own object adopts the new entries), the templates, the outbox's send budget and quiet hours, the
    admins alerts go to, the mall catalogue (synced as at start) and the configured groups. The outcome goes
    to the log and to bot.reload.json beside the pid file, which `python run_bot.py reload` waits for.
    """

    def __init__(self, rt: Runtime, runner: Any, outbox: Any, alerts: Any, kind: str,
                 source: tuple[Path | None, str | None]) -> None:
        self.rt, self.runner, self.outbox, self.alerts, self.kind = rt, runner, outbox, alerts, kind
        self.config, self.db = source
        self.task: Any = None

    def requested(self) -> None:
        import asyncio
        import time

        if self.task is not None and not self.task.done():
            logger.warning("收到重新加载配置的请求，但上一次还没完成：忽略这一次 (reload already running)")
            return
        request, by = take_request(run_dir(self.rt.settings.storage.url), STATUS_NAME)
        self.task = asyncio.get_running_loop().create_task(self.reload(time.time(), request, by=by))

    async def reload(self, received: float, request: str | None = None, by: str = "SIGHUP") -> tuple[bool, str]:
        path = self.config or config_mod.DEFAULT_CONFIG
        try:
            new, renderer = self.validate()
            async with self.runner.busy:
                self.apply(new, renderer)
        except Exception as exc:  # any refusal keeps the running rules: nothing was swapped
            message = str(exc) if isinstance(exc, ConfigError | Refused) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, ConfigError | Refused):
                logger.opt(exception=exc).error("reload failed")
            logger.error("重新加载 {} 被拒绝，继续使用原来的规则：{}", path, message)
            report(self.rt.settings, STATUS_NAME, request, received=received, ok=False, message=message)
            self.logged(by, ok=False, message=message)
            return False, message
        logger.info("已重新加载 {}：新规则从下一批消息起生效 (config reloaded)", path)
        self.logged(by, ok=True, message="")
        report(self.rt.settings, STATUS_NAME, request, received=received, ok=True, message="")
        return True, ""

    def logged(self, by: str, *, ok: bool, message: str) -> None:
        """Each reload, applied or refused, in the operator log (a change of the rules is an operator's change)."""
        try:
            self.rt.services.oplog.record(at=self.rt.clock.now(), actor_kind="cli", actor=by, action="reload",
                                          target=str(self.config or config_mod.DEFAULT_CONFIG),
                                          detail={"ok": ok, "message": message[:500]})
        except Exception as exc:  # the log must not undo a reload that happened
            logger.warning("reload: could not write the operator log ({})", exc)

    def validate(self) -> tuple[Settings, Any]:
        from bot.templating import Renderer, TemplateProblem, cache_dir
        from handlers.lib.samples import BASE, SAMPLES

        new = config_mod.load(self.config, self.db)
        check_jobs(new, self.rt.app.registry)
        changed = restart_only(self.rt.settings, new)
        if changed:
            raise Refused(f"这些设置要重启机器人才生效：{'、'.join(changed)}；这次没有应用任何改动，"
                          "请重启机器人，或先把它们改回原样再重新加载")
        renderer = Renderer(cache=cache_dir())
        try:
            renderer.check_changed(SAMPLES, BASE)
        except TemplateProblem as exc:
            raise Refused(str(exc)) from None
        return new, renderer

    def apply(self, new: Settings, renderer: Any) -> None:
        from dataclasses import replace as copy

        from bot.dispatch import Matcher
        from bot.outbox import Budget, digest_text

        rt, app = self.rt, self.rt.app
        services = rt.services
        now = rt.clock.now()
        if new.bot.rooms:  # newly configured groups are served before anyone speaks in them, as at start
            known = {room for room, _name in services.presence.rooms(new.bot.rooms)}
            for room in new.bot.rooms:
                if room not in known:
                    services.presence.see_room(room, "", now)
        if new.mall is not None:
            for note in services.mall.sync(new.mall.items, now):
                logger.warning(note)
        schedule = make_schedule(new, app.registry)
        budget = Budget.from_settings(new.outbox, new.bot.tz)
        if self.kind == "wecom":  # each reply answers its own callback: never merged (see _run_wecom)
            budget = copy(budget, coalesce=0)
        # the swap itself: plain assignments, nothing between them can fail
        app.settings = new
        app.matcher = Matcher(app.registry.commands, new)
        app.admins = frozenset(new.bot.admins)
        app.allowed_rooms = frozenset(new.bot.rooms)
        rt.schedule.adopt(schedule)
        app.schedule_rooms = rt.schedule.rooms()
        app.renderer = renderer
        rt.renderer = renderer
        self.outbox.digest = digest_text(renderer)
        self.outbox.budget = budget
        self.alerts.admins = tuple(new.bot.admins)
        rt.settings = new
        self.runner.wake.set()  # the schedule looks at the clock again with the new entries

def take_request(folder: Path, name: str) -> tuple[str | None, str]:
    """(id, who asked) of the request `python run_bot.py reload` left before signalling; (None, "SIGHUP") without
    one (a plain signal: `systemctl reload`, `kill -HUP`)."""
    path = folder / f"{name}.request.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        path.unlink()
    except (OSError, ValueError):
        return None, "SIGHUP"
    if not isinstance(data, dict):
        return None, "SIGHUP"
    return (str(data["id"]) if data.get("id") else None), str(data.get("by") or "SIGHUP")


def report(settings: Settings, name: str, request: str | None, **outcome: Any) -> None:
    """Write an outcome to `<name>.json` beside the pid file (atomically): what the waiting command reads."""
    import time

    path = run_dir(settings.storage.url) / f"{name}.json"
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps({"pid": os.getpid(), "request": request, "done": time.time(), **outcome},
                                  ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        logger.warning("cannot write {}: {}", path, exc)


class Refused(Exception):
    """A reload refused for a reason the operator reads as it is (Chinese)."""


def _url_for(config: Path | None, db: str | None) -> str:
    """The database URL a bot started with these options uses, read even from a file that no longer validates."""
    import tomllib

    if db:
        return db
    try:
        return config_mod.load(config).storage.url
    except ConfigError:
        pass
    try:
        data = tomllib.loads(Path(config or config_mod.DEFAULT_CONFIG).read_text(encoding="utf-8"))
        url = data.get("storage", {}).get("url")
    except (OSError, ValueError, AttributeError):
        url = None
    return url if isinstance(url, str) and url else config_mod.StorageSettings().url


ANNOUNCE_NAME = "bot.announce"  # bot.announce.request.json: the text and groups; bot.announce.json: the outcome
ANNOUNCE_ACTORS = ("cli", "console")  # who leaves a 公告 request: the command line, a console running alone
CONSOLE_ANNOUNCE_WAIT = 15.0  # seconds a console running alone waits for the bot to take a 公告


async def announce_requested(rt: Runtime, runner: Any, outbox: Any) -> None:
    """Post the 公告 left beside the pid file (by `python run_bot.py announce` or a console running alone) to the
    served groups, through the outbox, and report the outcome for the one waiting."""
    from handlers.lib.announcing import NotSent

    path = run_dir(rt.settings.storage.url) / f"{ANNOUNCE_NAME}.request.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        path.unlink()
    except (OSError, ValueError):
        logger.warning("收到发公告的信号，但没有找到 {}：忽略 (no announcement waiting)", path)
        return
    if not isinstance(data, dict):
        data = {}
    rid = str(data.get("id", ""))
    kind = str(data.get("actor_kind") or "cli")
    rooms = data.get("rooms")
    try:
        count = await announce_queued(rt, runner, outbox, str(data.get("text", "")),
                                      [str(r) for r in rooms] if isinstance(rooms, list) else [],
                                      actor_kind=kind if kind in ANNOUNCE_ACTORS else "cli",
                                      by=str(data.get("by") or "cli"))
    except NotSent as exc:
        logger.warning("公告没有发出：{}", exc)
        report(rt.settings, ANNOUNCE_NAME, rid, ok=False, message=str(exc), count=0)
        return
    report(rt.settings, ANNOUNCE_NAME, rid, ok=True, message="", count=count)


async def announce_queued(rt: Runtime, runner: Any, outbox: Any, text: str, rooms: list[str], *, actor_kind: Any,
                          by: str) -> int:
    """announce_now between two batches (like a reload): how every channel but the chat posts a 公告 in the bot."""
    async with runner.busy:
        return announce_now(rt, outbox, text, rooms, actor_kind=actor_kind, by=by)


def announce_text(rt: Runtime, text: str, now: datetime) -> str:
    """What each group reads for the 公告 `text`: the chat command's template, with the transport's mention hints."""
    body = rt.app.renderer.render("announce/post", {"text": text, "name": "", "keyword": "", "now": now})
    return rt.app.hinted(body, group=True)


def announce_now(rt: Runtime, outbox: Any, text: str, rooms: list[str], *, actor_kind: Any = "cli",
                 by: str = "cli") -> int:
    """Queue `text` as a 公告 post to every served group, or to `rooms` (ids or names); how many groups.

    One operator-log row says who sent what where; NotSent (nothing queued, nothing logged) for an empty or too
    long text, or a group that is not served.
    """
    from bot.events import Outgoing
    from handlers.lib.announcing import checked, chosen

    text = checked(text)
    groups = chosen(rt.services.presence.rooms(tuple(rt.settings.bot.rooms)), rooms)
    now = rt.clock.now()
    body = announce_text(rt, text, now)
    ids = [r[0] for r in groups]
    rt.services.oplog.record(at=now, actor_kind=actor_kind, actor=by, action="announce",
                             target=",".join(ids) if any(rooms) else "*", detail={"text": text, "rooms": ids})
    outbox.put([Outgoing(at=now, text=body, room=room) for room in ids])
    logger.info("公告（{}）已进入发送队列：{} 个群", actor_kind, len(ids))
    return len(ids)


class NoBot(Exception):
    """No running bot took a request: none is running, or it cannot be signalled; the message says what to do."""


class NoAnswer(NoBot):
    """The bot was signalled but did not report back in time: it may still act on the request later."""


def find_bot(url: str) -> tuple[int, Path]:
    """The pid and folder (run_dir) of the bot running on the database `url`, or NoBot saying why there is none."""
    folder = run_dir(url)
    pid_file = folder / PID_FILE
    try:
        pid = int(json.loads(pid_file.read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        raise NoBot(f"没有找到运行中的机器人（{pid_file} 不存在或无法读取）：先启动机器人；"
                    "用了 --config / --db 启动的，这里也要带上同样的参数") from None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        raise NoBot(f"没有运行中的机器人：{pid_file} 记录的进程 {pid} 已经不在了（机器人可能异常退出过）；"
                    "先启动机器人") from None
    except PermissionError:
        raise NoBot(f"无权向进程 {pid} 发送信号：请用运行机器人的同一个用户执行") from None
    return pid, folder


def ask_bot(pid: int, folder: Path, sig: int, request: dict[str, Any], status_name: str, wait: float) -> dict[str, Any]:
    """Leave `request` (with a fresh id) for the bot, signal it, and wait until its status file answers that id."""
    import secrets
    import time

    rid = secrets.token_hex(8)
    req = folder / f"{status_name}.request.json"
    tmp = req.with_suffix(".tmp")
    tmp.write_text(json.dumps({**request, "id": rid}, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, req)
    os.kill(pid, sig)
    status_file = folder / f"{status_name}.json"
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            status = json.loads(status_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            status = None
        if isinstance(status, dict) and status.get("pid") == pid and status.get("request") == rid:
            return status
        time.sleep(0.05)
    raise NoAnswer(f"机器人（进程 {pid}）在 {wait:.0f} 秒内没有回应：查看它的日志")


def request_announcement(url: str, text: str, rooms: list[str], *, actor_kind: str, by: str,
                         wait: float) -> dict[str, Any]:
    """Hand a 公告 to the bot running on `url` (a request file beside its pid file, then SIGUSR1) and wait for its
    outcome ({ok, message, count}): what `python run_bot.py announce` and a console running alone both do."""
    import signal

    pid, folder = find_bot(url)
    return ask_bot(pid, folder, signal.SIGUSR1, {"text": text, "rooms": rooms, "actor_kind": actor_kind, "by": by},
                   ANNOUNCE_NAME, wait)


def _find_bot(config: Path | None, db: str | None) -> tuple[int, Path]:
    """find_bot for a command: exit 1 saying why there is no bot."""
    try:
        return find_bot(_url_for(config, db))
    except NoBot as exc:
        raise _fail(str(exc), EXIT_NO_BOT) from None


@cli.command("reload")
def reload_config(config: ConfigOpt = None, db: DbOpt = None,
                  wait: Annotated[float, typer.Option(help="最多等机器人回应的秒数")] = 30.0) -> None:
    """让运行中的机器人重新读取 config.toml，校验通过才生效。退出码 0 已生效，2 被拒绝（原规则不变），1 没有运行中的机器人。"""
    import signal

    pid, folder = _find_bot(config, db)
    try:
        status = ask_bot(pid, folder, signal.SIGHUP, {"by": cli_actor()}, STATUS_NAME, wait)
    except NoBot as exc:
        raise _fail(str(exc), EXIT_NO_BOT) from None
    if status.get("ok"):
        typer.echo("配置已重新加载，新规则已生效（config reloaded）")
        return
    raise _fail(f"新配置被拒绝，机器人继续使用原来的规则：\n{status.get('message', '')}", EXIT_RELOAD_REFUSED)


@cli.command()
def announce(text: Annotated[str, typer.Argument(help="公告内容（最多 1000 字）")],
             room: Annotated[str | None, typer.Option("--room", help="只发这一个群：群 ID 或群名")] = None,
             yes: Annotated[bool, typer.Option("--yes", "-y", help="不再询问，直接发送")] = False,
             config: ConfigOpt = None, db: DbOpt = None,
             wait: Annotated[float, typer.Option(help="最多等机器人回应的秒数")] = 30.0) -> None:
    """通过运行中的机器人向所有群（或 --room 一个群）发公告，按发送速率陆续发出。

    退出码 0 已进入发送队列，2 没有发出，1 没有运行中的机器人。
    """
    from handlers.lib.announcing import NotSent, checked

    try:
        text = checked(text)
    except NotSent as exc:
        raise _fail(f"{exc}" + ("" if text.strip() else '：python run_bot.py announce "内容"')) from None
    _find_bot(config, db)  # no bot: said before the question
    if not yes:
        typer.echo(f"将发到{'「' + room + '」' if room else '机器人服务的全部群'}：\n— — — — —\n{text}\n— — — — —")
        if not typer.confirm("确认发送？"):
            raise _fail("已取消，公告没有发出")
    try:
        status = request_announcement(_url_for(config, db), text, [room] if room else [], actor_kind="cli",
                                      by=cli_actor(), wait=wait)
    except NoBot as exc:
        raise _fail(str(exc), EXIT_NO_BOT) from None
    if not status.get("ok"):
        raise _fail(f"公告没有发出：{status.get('message', '')}")
    typer.echo(f"公告已进入发送队列：{status.get('count', 0)} 个群，按发送速率陆续发出")


class BotAnnouncer:
    """The console's 公告 inside the bot process: straight into this process's outbox (announce_queued)."""

    inside = True

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.runner: Any = None
        self.outbox: Any = None

    def attach(self, runner: Any, outbox: Any) -> None:
        """The runner and outbox, made after the console's routes (the bridge serves both on one port)."""
        self.runner, self.outbox = runner, outbox

    def preview(self, text: str) -> str:
        return announce_text(self.rt, text, self.rt.clock.now())

    async def send(self, text: str, rooms: list[str], by: str) -> int:
        from handlers.lib.announcing import NotSent

        if self.outbox is None:
            raise NotSent("机器人还在启动，还不能发送：请稍后再试")
        return await announce_queued(self.rt, self.runner, self.outbox, text, rooms, actor_kind="console", by=by)


class HandoffAnnouncer:
    """The console's 公告 when it runs alone (`python run_bot.py console`): handed to the running bot as the CLI does
    (request_announcement); the bot queues it and writes the operator-log row."""

    inside = False

    def __init__(self, settings: Settings, wait: float = CONSOLE_ANNOUNCE_WAIT) -> None:
        import threading

        from bot.templating import Renderer, cache_dir

        self.settings = settings
        self.wait = wait
        self.renderer = Renderer(cache=cache_dir())
        self.one_at_a_time = threading.Lock()  # one request file: a second would replace the first

    def preview(self, text: str) -> str:
        now = Clock(self.settings.bot.tz).now()
        return self.renderer.render("announce/post", {"text": text, "name": "", "keyword": "", "now": now})

    async def send(self, text: str, rooms: list[str], by: str) -> int:
        import asyncio

        from handlers.lib.announcing import NotSent

        def hand() -> dict[str, Any]:
            with self.one_at_a_time:
                return request_announcement(self.settings.storage.url, text, rooms, actor_kind="console", by=by,
                                            wait=self.wait)

        try:
            status = await asyncio.to_thread(hand)
        except NoAnswer as exc:
            raise NotSent(f"{exc}。公告可能稍后仍会发出：请在操作日志里确认，不要马上重发") from None
        except NoBot as exc:
            raise NotSent(f"公告没有发出：{exc}（这个后台是单独运行的，要由运行中的机器人来发）") from None
        if not status.get("ok"):
            raise NotSent(f"公告没有发出：{status.get('message', '')}")
        return int(status.get("count", 0))


def _outbox_counters(outbox: Any) -> dict[str, int]:
    return {"sent": outbox.sent, "failed": outbox.failed, "given_up": outbox.given_up}


async def _health_server(settings: Settings, health: Any, kind: str) -> Any:
    """[health] port: /healthz on its own small server (the bridge also serves it on its port), bound now."""
    cfg = settings.health
    if not cfg.port or (kind == "bridge" and cfg.port == settings.bridge.port):
        return None
    from bot.health import routes
    from bot.web import WebError, WebServer, build_app

    server = WebServer(build_app(routes(health)), cfg.host, cfg.port)
    try:
        await server.start()
    except WebError as exc:
        raise _fail(f"[health] 端口无法监听 (cannot serve /healthz): {exc}；换一个 health.port，或设为 0 关闭") from None
    logger.info("health: GET http://{}:{}/healthz", cfg.host, server.bound_port)
    return server


async def _wechaty(settings: Settings) -> None:
    from bot.transports.wechaty import WechatyTransport

    await _live(settings, lambda submit, clock, _store, health, _parts: WechatyTransport(
        settings.wechaty, submit, clock=clock, self_alias=settings.bot.self_id, health=health), kind="wechaty")


EXIT_PUSHED_OFF = 7  # WeCom: another process took the bot's one connection; a supervisor should not restart us


def _run_wecom(settings: Settings) -> None:
    import asyncio

    from bot.outbox import Budget
    from bot.supervisor import FatalConnectionError
    from bot.transports.wecom import PushedOff, WecomTransport, credentials

    bot_id, secret, _url = credentials(settings.wecom)
    if not bot_id or not secret:
        raise _fail('transport "wecom" needs the AI bot\'s credentials: set [wecom] bot_id and secret in config.toml '
                    "or WECOM_BOT_ID and WECOM_BOT_SECRET (企业微信管理后台 → 智能机器人 → API 模式：长连接)")
    for name in ("newcomer", "invite"):
        if getattr(settings, name, None) is not None:
            logger.warning("[{}] is on, but WeCom's AI bot receives no join or leave events: it cannot run on this "
                           "transport (nothing is paid for joining or inviting)", name)

    def make(submit: Any, clock: Any, _store: Any, health: Any, _parts: Any) -> Any:
        return WecomTransport(settings.wecom, submit, clock=clock, bot_name=settings.bot.name,
                              self_alias=settings.bot.self_id, health=health)

    # each reply answers its own callback on its req_id: @-replies are never merged into one message
    budget = replace(Budget.from_settings(settings.outbox, settings.bot.tz), coalesce=0)
    try:
        asyncio.run(_live(settings, make, budget=budget, kind="wecom"))
    except FatalConnectionError as exc:
        if isinstance(exc.__cause__, PushedOff):
            raise _fail(f"stopped: {exc}. Run one bot per WeCom bot id.", EXIT_PUSHED_OFF) from None
        raise _fail(f"cannot run on WeCom: {exc}. Check [wecom] bot_id and secret or WECOM_BOT_ID / "
                    "WECOM_BOT_SECRET.", 4) from None


def _run_bridge(settings: Settings) -> None:
    import asyncio

    from bot.health import routes
    from bot.transports.bridge import BridgeError, BridgeTransport, secret

    if not secret(settings.bridge):
        raise _fail('transport "bridge" needs a shared secret: set [bridge] secret or BOT_BRIDGE_SECRET')
    for note in config_mod.warnings(settings):
        logger.warning(note)
    try:
        asyncio.run(_live(settings, lambda submit, clock, store, health, parts: BridgeTransport(
            settings.bridge, submit, store, tz=settings.bot.tz, clock=clock, health=health,
            parts=[routes(health), *parts]), kind="bridge"))
    except BridgeError as exc:
        raise _fail(f"cannot run the bridge: {exc}") from None


async def _console(settings: Settings) -> None:
    import asyncio

    from bot.outbox import Budget, Outbox
    from bot.runner import LiveRunner
    from bot.transports.console import ConsoleTransport

    clock = OffsetClock(settings.bot.tz)
    rt = _runtime(settings, clock)
    console = ConsoleTransport(clock, settings.bot.name, settings.bot.self_id)
    # the console speaks for no WeChat account: no budget, and every reply shown as it is
    outbox = Outbox(console, Budget(unlimited=True, coalesce=0, tz=settings.bot.tz))
    runner = LiveRunner(rt.app, outbox, rt.schedule, clock, batch_size=settings.storage.batch_size)
    announcer = BotAnnouncer(rt)
    announcer.attach(runner, outbox)
    web = await _console_web(settings, rt.services, clock, announcer)
    task = asyncio.create_task(runner.run())
    logger.info("console transport ready; database {}", settings.storage.url)
    await console.run(runner.submit, runner.wake.set)
    runner.stop()
    await task
    await _stop_web(web)


# -- the operator console (后台, a web app; not the chat console transport) ----------------------------


def _console_secret(settings: Settings, services: Any) -> str:
    return os.environ.get("BOT_CONSOLE_SECRET") or settings.console.secret or services.accounts.secret()


def console_routes(settings: Settings, services: Any, clock: Clock, announcer: Any) -> Any:
    """The console's routes on `services` (what the bot process mounts and `console` serves alone); `announcer`: how
    its 公告 screen posts (BotAnnouncer in the bot process, HandoffAnnouncer alone)."""
    from console.app import Console

    return Console(services, settings, clock.now, secret=_console_secret(settings, services),
                   announcer=announcer).routes()


def console_app(settings: Settings, services: Any, clock: Clock, announcer: Any) -> Any:
    from bot.web import build_app

    return build_app(console_routes(settings, services, clock, announcer))


def _console_on_bridge(settings: Settings) -> bool:
    """[console] enabled with the bridge's host and port: one app, one server (the bridge's)."""
    c, b = settings.console, settings.bridge
    return c.enabled and settings.transport.kind == "bridge" and (c.host, c.port) == (b.host, b.port) and c.port != 0


def _console_warnings(settings: Settings) -> None:
    from console.security import loopback

    if not loopback(settings.console.host):
        logger.warning('console.host = "{}": the operator console is reachable from other machines; keep 127.0.0.1 '
                       "and use an SSH tunnel or an HTTPS reverse proxy (后台暴露在本机之外)", settings.console.host)


async def _console_web(settings: Settings, services: Any, clock: Clock, announcer: Any) -> Any:
    """With [console] enabled: the console served in this loop beside the bot (None when off)."""
    import asyncio

    if not settings.console.enabled:
        return None
    from bot.web import WebError, WebServer

    _console_warnings(settings)
    web = WebServer(console_app(settings, services, clock, announcer), settings.console.host, settings.console.port)
    try:
        await web.start()
    except WebError as exc:
        raise _fail(f"cannot serve the console: {exc}. Change [console] port or stop what uses it.") from None
    task = asyncio.create_task(web.serve())
    logger.info("operator console on http://{}:{}/console/", settings.console.host, web.bound_port)
    return web, task


async def _stop_web(web: Any) -> None:
    if web is not None:
        server, task = web
        server.stop()
        await task


@cli.command("console")
def console_serve(config: ConfigOpt = None, db: DbOpt = None,
                  host: Annotated[str | None, typer.Option(help="监听地址，默认 [console] host（127.0.0.1）")] = None,
                  port: Annotated[int | None, typer.Option(help="端口，默认 [console] port（8080）")] = None) -> None:
    """只运行网页后台（不是 --transport console 的终端聊天），可与机器人同时用同一个数据库。

    Not the chat console transport ([transport] kind = "console", which `python run_bot.py` runs).
    """
    import asyncio
    import signal

    global _LIVE
    settings = _settings(config, db)
    update = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if update:
        settings = settings.model_copy(update={"console": settings.console.model_copy(update=update)})
    services = _services(settings)
    _LIVE = True
    _console_warnings(settings)
    from bot.web import WebError, WebServer

    web = WebServer(console_app(settings, services, Clock(settings.bot.tz), HandoffAnnouncer(settings)),
                    settings.console.host, settings.console.port)

    async def serve() -> None:
        try:
            await web.start()
        except WebError as exc:
            raise _fail(f"cannot serve the console: {exc}. Change [console] port or --port.") from None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, web.stop)
        logger.info("operator console on http://{}:{}/console/ (database {})", settings.console.host,
                    web.bound_port, settings.storage.url)
        await web.serve()

    asyncio.run(serve())
    services.db.engine.dispose()


def _services(settings: Settings) -> Any:
    """Every storage service on the configured database, at head (upgraded like the bot does at start)."""
    from sqlalchemy.exc import OperationalError

    from storage.db import make_engine
    from storage.schema import UnknownRevision
    from storage.store import Storage

    try:
        engine = make_engine(settings.storage.url, tz=settings.bot.tz, cache_mb=settings.storage.cache_mb,
                             mmap_mb=settings.storage.mmap_mb)
    except UnknownRevision as exc:
        raise _unknown_revision(exc) from None
    except OperationalError as exc:
        raise _cannot_open(settings, exc) from None
    return Storage.open(engine, settings.bot.tz, _policy(settings))


users_cli = typer.Typer(add_completion=False, no_args_is_help=True, help="网页后台的账号：add / list / passwd / disable")
cli.add_typer(users_cli, name="console-user")
RoleOpt = Annotated[str, typer.Option("--role", help="viewer（只读）或 operator（也能修改）")]


def _read_password(confirm: bool = True) -> str:
    """The password from stdin when it is not a terminal (one line), else a prompt asked twice."""
    from console.security import password_problem

    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("密码", hide_input=True, confirmation_prompt="再输入一次" if confirm else False)
    if (problem := password_problem(password)) is not None:
        raise _fail(f"{problem}，没有修改任何账号")
    return password


def cli_actor() -> str:
    """Who runs a CLI command, for the operator log: the OS user."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


@users_cli.command("add")
def user_add(name: Annotated[str, typer.Argument(help="登录名")], role: RoleOpt = "viewer",
             config: ConfigOpt = None, db: DbOpt = None) -> None:
    """新建后台账号；密码从标准输入读一行，或在终端里输入两次。"""
    from console.security import hash_password
    from storage.accounts import ROLES, AccountExists

    name = name.strip()
    if not name or len(name) > 40 or any(c.isspace() for c in name):
        raise _fail("登录名需要 1–40 个字符，不含空格")
    if role not in ROLES:
        raise _fail(f"--role 只能是 viewer（只读）或 operator（也能修改），不是 {role!r}")
    settings = _settings(config, db)
    services = _services(settings)
    password = _read_password()
    now = Clock(settings.bot.tz).now()
    try:
        with services.db.transaction():
            services.accounts.add(name, hash_password(password), role, now)
            services.oplog.record(at=now, actor_kind="cli", actor=cli_actor(), action="console_user_add",
                                  target=f"console:{name}", detail={"role": role})
    except AccountExists:
        raise _fail(f"账号 {name} 已经存在：改密码用 console-user passwd {name}") from None
    typer.echo(f"已创建后台账号 {name}（{'只读' if role == 'viewer' else '可修改'}）")


@users_cli.command("list")
def user_list(config: ConfigOpt = None, db: DbOpt = None) -> None:
    """列出后台账号。"""
    settings = _settings(config, db)
    services = _services(settings)
    tz = settings.bot.tz
    accounts = services.accounts.all()
    if not accounts:
        typer.echo("还没有后台账号：python run_bot.py console-user add 名字 --role operator")
        return
    for a in accounts:
        state = "（已停用）" if a.disabled else ""
        typer.echo(f"{a.name}\t{a.role}\t{a.created_at.astimezone(tz):%Y-%m-%d %H:%M}{state}")


@users_cli.command("passwd")
def user_passwd(name: Annotated[str, typer.Argument(help="登录名")], config: ConfigOpt = None, db: DbOpt = None) -> None:
    """修改后台账号的密码（这个账号已登录的会话随之失效）。"""
    from console.security import hash_password

    settings = _settings(config, db)
    services = _services(settings)
    if services.accounts.get(name) is None:
        raise _fail(f"没有后台账号 {name}：用 console-user list 查看")
    password = _read_password()
    with services.db.transaction():
        services.accounts.update(name, password_hash=hash_password(password))
        services.oplog.record(at=Clock(settings.bot.tz).now(), actor_kind="cli", actor=cli_actor(),
                              action="console_user_passwd", target=f"console:{name}")
    typer.echo(f"已修改 {name} 的密码")


@users_cli.command("disable")
def user_disable(name: Annotated[str, typer.Argument(help="登录名")], config: ConfigOpt = None,
                 db: DbOpt = None) -> None:
    """停用后台账号（立即退出登录，不能再登录）。"""
    settings = _settings(config, db)
    services = _services(settings)
    with services.db.transaction():
        if not services.accounts.update(name, disabled=True):
            raise _fail(f"没有后台账号 {name}：用 console-user list 查看")
        services.oplog.record(at=Clock(settings.bot.tz).now(), actor_kind="cli", actor=cli_actor(),
                              action="console_user_disable", target=f"console:{name}")
    typer.echo(f"已停用 {name}")


@cli.command()
def replay(file: Annotated[Path, typer.Argument(help="事件文件：每行一个 JSON 事件，按时间顺序（- 为标准输入）")],
           config: ConfigOpt = None, db: DbOpt = None) -> None:
    """回放事件文件（JSON lines）；机器人发出的每条消息打印为一行 JSON。"""
    import asyncio

    from bot.outbox import Budget
    from bot.transports.replay import replay as run_replay

    settings = _settings(config, db)
    if str(file) != "-" and not file.exists():
        raise _fail(f"找不到事件文件 {file}")
    rt = _runtime(settings, ManualClock(Clock().now(), settings.bot.tz))
    out = sys.stdout
    # bytes: a line that is not UTF-8 is reported and skipped, not the end of the file
    src = sys.stdin.buffer if str(file) == "-" else file.open("rb")
    with src:
        stats = asyncio.run(run_replay(rt.app, rt.schedule, src, _writer(out), batch_size=settings.storage.batch_size,
                                       budget=Budget.from_settings(settings.outbox, settings.bot.tz)))
    out.flush()
    logger.info("replayed {} events, {} scheduled runs, {} messages sent", stats.events, stats.jobs, stats.sent)
    if stats.bad_lines:
        raise _fail(f"{stats.bad_lines} line(s) could not be read and were skipped (see the log above)", 3)


def _writer(out: Any) -> Any:
    def write(line: str) -> None:
        out.write(line)

    return write


@cli.command()
def migrate(config: ConfigOpt = None, db: DbOpt = None) -> None:
    """把数据库升级到本版本的结构（机器人启动时也会自动升级）。

    A database written before schema versions is adopted first. Safe beside other processes: they wait.
    Exit 6: the database is at a revision this release does not know (a newer release wrote it).
    """
    from rich.console import Console
    from sqlalchemy.exc import OperationalError

    from storage import schema
    from storage.db import make_engine

    settings = _settings(config, db)
    out = Console(highlight=False)
    try:
        engine = make_engine(settings.storage.url, create=False)
        done = schema.upgrade(engine, tz=settings.bot.tz,
                              progress=lambda rev, doc: out.print(f"[green]✓[/] 升级到 {rev}：{doc}"))
    except schema.UnknownRevision as exc:
        raise _unknown_revision(exc) from None
    except OperationalError as exc:
        raise _cannot_open(settings, exc) from None
    engine.dispose()
    if not done.applied:
        out.print(f"数据库已是最新版本 {done.after}，无需升级")
        return
    if done.adopted:
        out.print(f"这个数据库由旧版本写入（没有版本记录）：已补齐并登记为 {done.applied[0]}")
    out.print(f"数据库已升级到 {done.after}")


# -- operator read-outs: never migrate, never create, never write ------------------------------------


@dataclass
class ReadOut:
    """What a read-out needs: the settings and a ledger on a read-only engine whose schema is at head."""

    settings: Settings
    ledger: Any
    mall: Any
    figures: Any = None


def _readonly(config: Path | None, db: str | None) -> ReadOut:
    from sqlalchemy.exc import OperationalError

    from storage import schema
    from storage.db import open_readonly
    from storage.store import Storage

    settings = _settings(config, db)
    try:
        check_jobs(settings)
    except ConfigError as exc:
        raise _fail(f"配置错误 (config error):\n{exc}") from None
    try:
        engine = open_readonly(settings.storage.url)
    except FileNotFoundError as exc:
        raise _fail(f"数据库文件 {exc} 不存在：检查 config.toml 的 storage.url（或 --db）；"
                    "新数据库由 python run_bot.py migrate 或启动机器人创建") from None
    try:
        schema.check(engine)
    except schema.NeedsUpgrade:
        raise _fail(NEEDS_MIGRATE, EXIT_NEEDS_MIGRATE) from None
    except schema.UnknownRevision as exc:
        raise _unknown_revision(exc) from None
    except OperationalError as exc:
        raise _cannot_open(settings, exc) from None
    # audit checks the lots too; nothing is settled here
    st = Storage.open(engine, settings.bot.tz, _policy(settings))
    logger.debug("ready")
    return ReadOut(settings, st.ledger, st.mall, st.figures)


@cli.command()
def balances(config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """每位成员的积分和成长值，从高到低。退出码 5：先运行 migrate。"""
    rt = _readonly(config, db)
    from handlers.lib.levels import level_name

    rows = [{"member": m.id, "name": m.name, "points": m.points, "growth": m.growth,
             "level": level_name(rt.settings, m.growth)} for m in rt.ledger.members()]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("成员 ID", "昵称", "积分", "成长值", "等级")
    for r in rows:
        table.add_row(r["member"], r["name"], str(r["points"]), str(r["growth"]), r["level"])
    Console().print(table)


@cli.command()
def ledger(config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
           member: Annotated[str | None, typer.Option(help="只看这个成员 ID")] = None) -> None:
    """账本的每一笔记录，从早到晚。退出码 5：先运行 migrate。"""
    rt = _readonly(config, db)
    tz = rt.settings.bot.tz
    rows = [{"member": e.member, "delta": e.delta, "kind": e.kind, "key": e.key,
             "at": e.at.astimezone(tz).isoformat(), "growth_delta": e.growth_delta,
             "balance_after": e.balance_after, "room": e.room, "detail": e.detail}
            for e in rt.ledger.entries(member)]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        typer.echo(f"{r['at']}  {r['member']:<20} {r['delta']:>+6}  {r['kind']:<16} {r['detail']}  [{r['key']}]")


FromOpt = Annotated[str | None, typer.Option("--from", help="从这天起（含），如 2026-11-01；不给则从头算起")]
ToOpt = Annotated[str | None, typer.Option("--to", help="到这天为止（含），如 2026-11-30；不给则到今天")]

def _day_option(value: str | None, option: str) -> Any:
    from datetime import date

    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise _fail(f"{option} {value} 不是日期：请写成 2026-11-01 这样的年-月-日") from None


@cli.command()
def stats(config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
          start: FromOpt = None, until: ToOpt = None) -> None:
    """运营数据：成员、活跃、签到率、留存、积分收支（期初 + 获得 − 收回 − 兑换 + 退款 − 过期 = 期末）、热门商品。
    不给 --from 时从头算起，期末等于所有成员的积分合计。退出码 5：先运行 migrate。"""
    from datetime import timedelta

    first, last = _day_option(start, "--from"), _day_option(until, "--to")
    if first is not None and last is not None and first > last:
        raise _fail(f"--from {first} 晚于 --to {last}：开始日期要早于或等于结束日期")
    rt = _readonly(config, db)
    today = Clock(rt.settings.bot.tz).local_day()  # the bot's day, not UTC's
    end = (last or today) + timedelta(days=1)
    if first is not None and first >= end:
        raise _fail(f"--from {first} 在今天之后：没有数据可算，去掉 --from 或换一个日期")
    report = rt.figures.compute(start=first, end=end, staff=rt.settings.bot.admins)
    if as_json:
        typer.echo(json.dumps(report.as_json(), ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    from handlers.stats import SOURCES

    p = report.points
    period = f"{report.start or '开始'} 至 {report.end - timedelta(days=1)}"
    out = Console()
    table = Table("指标", "数值", title=f"运营数据（{period}）")
    for label, value in [
        ("成员（在群）", report.members), ("期间新成员", report.joined), ("期间离开", report.left),
        ("期间活跃", report.active), ("近 7 天活跃", report.active_7d), ("近 30 天活跃", report.active_30d),
        ("近 7 天签到率", f"{report.checkin_rate_7d:.1%}"),
        ("兑换人数", report.redeemers), ("兑换转化率（兑换人数 ÷ 期间活跃）", f"{report.conversion:.1%}"),
    ]:
        table.add_row(label, str(value))
    out.print(table)
    acc = Table("积分收支", "积分", title="期末 = 期初 + 获得 − 收回 − 兑换 + 退款 − 过期")
    acc.add_row("期初", str(p.opening))
    for kind, n in p.earned.items():
        acc.add_row(f"  获得：{SOURCES.get(kind, kind)}", f"+{n}")
    for label, n, sign in [("获得合计", p.earned_total, "+"), ("收回（邀请收回、撤销、扣分）", p.reversed, "−"),
                           ("兑换（商城、补签）", p.redeemed, "−"), ("退款", p.refunded, "+"), ("过期", p.expired, "−")]:
        acc.add_row(label, f"{sign}{n}")
    for kind, n in p.other.items():
        acc.add_row(f"未归类：{kind}", str(n))
    acc.add_row("期末", str(p.closing))
    out.print(acc)
    out.print("恒等式成立" if p.holds else "恒等式不成立：运行 python run_bot.py audit 查看余额与账本哪里对不上")
    if report.retention:
        ret = Table("入群周", "人数", "1 周后", "2 周后", "4 周后", title="留存（入群后第 N 周仍活跃的比例）")
        for c in report.retention:
            ret.add_row(str(c.week), str(c.size), *("—" if v is None else f"{v:.0%}" for v in c.retained.values()))
        out.print(ret)
    if report.top_items:
        items = Table("商品", "兑换次数", "积分", title="热门商品")
        for t in report.top_items:
            items.add_row(f"{t.name}（{t.sku}）", str(t.orders), str(t.points))
        out.print(items)


@cli.command()
def audit(config: ConfigOpt = None, db: DbOpt = None) -> None:
    """核对账本的每一条不变式：全部成立退出码 0，有问题 1，5：先运行 migrate。"""
    rt = _readonly(config, db)
    problems = rt.ledger.audit()
    for p in problems:
        typer.echo(p)
    if problems:
        raise _fail(f"账本核对发现 {len(problems)} 个问题（audit found {len(problems)} problem(s)）", 1)
    typer.echo("账本核对无误（audit ok）：每个余额等于它的账本合计，签到、库存、卡密、撤销、榜单和过期批次都对得上")


def _codes(file: Path) -> list[str]:
    """Card codes from a file: one per line, or CSV with a `code` column (a header row naming it)."""
    from storage.mall import read_codes

    with file.open(encoding="utf-8-sig", newline="") as f:
        return list(read_codes(f))


@cli.command("import-codes")
def import_codes(sku: Annotated[str, typer.Argument(help="卡密类商品的 sku")],
                 file: Annotated[Path, typer.Argument(help="每行一个卡密，或带 code 列的 CSV")],
                 config: ConfigOpt = None, db: DbOpt = None) -> None:
    """为卡密类商品导入卡密；已导入过的卡密跳过并计数。"""
    from rich.progress import Progress

    from storage.errors import UnknownItem

    if not file.exists():
        raise _fail(f"找不到卡密文件 {file}")
    rt = _runtime(_settings(config, db))
    codes = [c for c in _codes(file) if c]
    mall = rt.services.mall
    try:
        # the operator log's row in the import's transaction: both land, or neither
        with Progress(transient=False) as bar, rt.services.db.transaction():
            task = bar.add_task(f"导入 {sku} 的卡密", total=len(codes))
            added, dupes = mall.import_codes(sku, codes, rt.clock.now(), progress=lambda n: bar.advance(task, n))
            rt.services.oplog.record(at=rt.clock.now(), actor_kind="cli", actor=cli_actor(), action="import_codes",
                                     target=f"sku:{sku}", detail={"added": added, "skipped": dupes, "file": file.name})
    except UnknownItem:
        raise _fail(f"没有 sku 为 {sku!r} 的商品：先在 config.toml 的 [[mall.items]] 里加上它（kind = \"card_code\"）"
                    f"（no mall item with sku {sku!r}）") from None
    except ValueError as exc:
        raise _fail(str(exc)) from None
    stock = mall.item(sku)
    typer.echo(f"已导入 {added} 个卡密，跳过 {dupes} 个重复的；{sku} 现有 {stock.stock if stock else 0} 个未用卡密")


@cli.command()
def backup(file: Annotated[Path, typer.Argument(help="备份写到这个新文件（不会覆盖已有文件）")],
           config: ConfigOpt = None, db: DbOpt = None) -> None:
    """备份 SQLite 数据库（机器人运行时也可以）：某一时刻的完整副本，校验后写入 FILE。"""
    from storage.backup import BackupError
    from storage.backup import backup as copy

    settings = _settings(config, db)
    try:
        with _spinner("正在备份…"):
            pages = copy(settings.storage.url, file)
    except BackupError as exc:
        raise _fail(str(exc)) from None
    size = file.stat().st_size
    typer.echo(f"已备份到 {file}（{size / 1024 / 1024:.1f} MB，{pages} 页，完整性检查通过）。"
               f"恢复：停止机器人，把它复制为 {settings.storage.url.removeprefix('sqlite:///')}，再启动。")


@contextmanager
def _spinner(text: str) -> Iterator[None]:
    from rich.console import Console

    with Console(stderr=True).status(text):
        yield


@cli.command("import-balances")
def import_balances(file: Annotated[Path, typer.Argument(help="CSV：id,name,points,growth（首行为列名）")],
                    config: ConfigOpt = None, db: DbOpt = None,
                    dry_run: Annotated[bool, typer.Option("--dry-run", help="只显示将要导入的合计，不写入")] = False) -> None:
    """从其他系统迁入成员余额：每人一笔「迁入」记录；再次运行不会重复导入。"""
    from rich.progress import Progress

    from storage.imports import ImportError_, Imports, read_csv

    if not file.exists():
        raise _fail(f"找不到文件 {file}")
    try:
        rows = read_csv(file)
    except ImportError_ as exc:
        raise _fail(f"无法导入：{exc}") from None
    except UnicodeDecodeError:
        raise _fail(f"{file} 不是 UTF-8 文本：在 Excel 里另存为「CSV UTF-8」再试") from None
    rt = _runtime(_settings(config, db))
    imports = Imports(rt.services.ledger, rt.services.presence)
    plan = imports.plan(rows)
    typer.echo(f"{len(plan.new)} 人待导入，共 {plan.points} 积分、{plan.growth} 成长值；"
               f"{len(plan.same)} 人已导入过（相同数字，跳过）；{len(plan.changed)} 人已导入过但数字不同")
    for row, points, growth in plan.changed[:20]:
        typer.echo(f"  第 {row.line} 行 {row.member}：已导入 {points} 积分 / {growth} 成长值，文件为 {row.points} / {row.growth}")
    if plan.changed:
        raise _fail("有成员已导入过且数字不同：导入不做修改。请核对文件；确需调整的，用「加分」「扣分」并写明理由。")
    if dry_run or not plan.new:
        typer.echo("试运行：没有写入任何数据" if dry_run else "没有需要导入的成员")
        return
    with Progress(transient=False) as bar, rt.services.db.transaction():  # with its operator log row: all or nothing
        task = bar.add_task("导入余额", total=len(plan.new))
        written = imports.apply(plan, rt.clock.now(), progress=lambda n: bar.advance(task, n))
        rt.services.oplog.record(at=rt.clock.now(), actor_kind="cli", actor=cli_actor(), action="import_balances",
                                 detail={"members": written, "points": plan.points, "growth": plan.growth,
                                         "file": file.name})
        rt.services.checkins.mark_members_active()  # the import day is a day each of them earned (storage.stats)
    typer.echo(f"已导入 {written} 人，共 {plan.points} 积分")


@cli.command()
def orders(config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
           csv_file: Annotated[Path | None, typer.Option("--csv", help="把订单写到这个 CSV 文件（给 Excel）")] = None,
           status: Annotated[str | None, typer.Option(help="只看这个状态：英文值或中文名，如 pending / 待处理")] = None,
           ) -> None:
    """商城订单，从早到晚；--csv 写出给 Excel 用的文件（UTF-8 带 BOM）。退出码 5：先运行 migrate。"""
    import csv

    from storage.vocabulary import STATUS_LABELS, OrderStatus

    wanted = None
    if status is not None:
        by_word = {**{str(s): s for s in OrderStatus}, **{label: s for s, label in STATUS_LABELS.items()}}
        wanted = by_word.get(status.strip().lower()) or by_word.get(status.strip())
        if wanted is None:
            known = "、".join(f"{s}（{label}）" for s, label in STATUS_LABELS.items())
            raise _fail(f"没有「{status}」这个订单状态；可选：{known}")
    rt = _readonly(config, db)
    tz = rt.settings.bot.tz
    names = {m.id: m.name for m in rt.ledger.members()}
    fields = ["id", "created_at", "member", "name", "sku", "item", "kind", "points", "cash_yuan", "status",
              "recipient", "phone", "address", "tracking", "note", "paid_at"]
    # what Excel shows in the first row; --json keeps the English keys
    headings = {"id": "单号", "created_at": "下单时间", "member": "成员 ID", "name": "昵称", "sku": "SKU", "item": "商品",
                "kind": "类型", "points": "积分", "cash_yuan": "现金（元）", "status": "状态", "recipient": "收件人",
                "phone": "电话", "address": "地址", "tracking": "快递单号", "note": "备注", "paid_at": "付款时间"}
    rows = [{"id": o.id, "created_at": o.created_at.astimezone(tz).isoformat(), "member": o.member,
             "name": names.get(o.member, ""), "sku": o.sku, "item": o.name, "kind": o.kind, "points": o.points,
             "cash_yuan": f"{o.cash / 100:.2f}", "status": o.status, "recipient": o.recipient, "phone": o.phone,
             "address": o.address, "tracking": o.tracking, "note": o.note,
             "paid_at": o.paid_at.astimezone(tz).isoformat() if o.paid_at else ""}
            for o in rt.mall.orders(statuses=(str(wanted),) if wanted else ())]
    if csv_file is not None:
        _log_export(rt.settings, len(rows), csv_file, status)
        with csv_file.open("w", encoding="utf-8-sig", newline="") as fh:  # the BOM tells Excel it is UTF-8
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writerow(headings)
            writer.writerows([{**r, "status": STATUS_LABELS.get(OrderStatus(r["status"]), r["status"])} for r in rows])
        typer.echo(f"已写入 {len(rows)} 个订单到 {csv_file}")
        return
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("单号", "下单时间", "成员", "商品", "积分", "现金", "状态")
    for r in rows:
        table.add_row(str(r["id"]), str(r["created_at"])[:16], f"{r['name']} ({r['member']})", str(r["item"]),
                      str(r["points"]), str(r["cash_yuan"]), STATUS_LABELS.get(OrderStatus(r["status"]), str(r["status"])))
    Console().print(table)


def _log_export(settings: Settings, n: int, file: Path, status: str | None) -> None:
    """orders --csv writes members' names, phones and addresses out: the operator log says who took them, first.

    The read-out's engine is read-only; this one row goes through a writable one, before the file is written
    (a log that cannot be written means no file)."""
    from storage.db import Database, make_engine
    from storage.oplog import OpLog

    engine = make_engine(settings.storage.url, create=False)
    try:
        OpLog(Database(engine)).record(at=Clock(settings.bot.tz).now(), actor_kind="cli", actor=cli_actor(),
                                       action="export_orders", detail={"orders": n, "file": file.name,
                                                                       "status": status or "全部"})
    finally:
        engine.dispose()


@cli.command("check-config")
def check_config(config: ConfigOpt = None, db: DbOpt = None) -> None:
    """检查 config.toml 和所有模板（用样例数据渲染），不启动机器人。"""
    settings = _settings(config, db)
    for i, entry in enumerate(settings.schedule):
        if entry.job not in REGISTRY.jobs:
            raise _fail(f'schedule[{i}].job must be one of {", ".join(sorted(REGISTRY.jobs))}, got "{entry.job}"')
    from bot.templating import Renderer, TemplateProblem, cache_dir
    from handlers.lib.samples import BASE, SAMPLES

    try:
        Renderer(cache=cache_dir()).check_samples(SAMPLES, BASE)
    except TemplateProblem as exc:
        raise _fail(str(exc)) from None
    for note in config_mod.warnings(settings):
        typer.echo(f"注意（warning）：{note}", err=True)
    typer.echo("配置无误（config ok）")


GLOBAL_OPTIONS = ("--config", "-c", "--db", "--transport")


def hoist(argv: list[str]) -> list[str]:
    """Options typed before the subcommand go after it: `--config X check-config` means `check-config --config X`.

    Every subcommand takes --config and --db itself; one that does not take an option refuses it by name
    (`--transport X balances`: "No such option: --transport"). Without a subcommand they stay for the bot.
    """
    commands = set(typer.main.get_command(cli).commands)  # type: ignore[attr-defined]
    moved: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in GLOBAL_OPTIONS and i + 1 < len(argv):
            moved += argv[i:i + 2]
            i += 2
        elif arg.split("=", 1)[0] in GLOBAL_OPTIONS and "=" in arg:
            moved.append(arg)
            i += 1
        else:
            break
    if moved and i < len(argv) and argv[i] in commands:
        return [argv[i], *moved, *argv[i + 1:]]
    return argv


def launch() -> None:
    """Run the CLI, then end the process without the interpreter's teardown.

    Tearing down (freeing every module's objects, a last garbage collection) takes a quarter of a second
    and does nothing a finished command needs: what must happen at the end is done here first — every
    database connection closed (SQLite checkpoints its WAL into the file), logs and output flushed.
    The live transports keep the ordinary exit: their libraries may still have threads to end.
    """
    code: Any = 0
    try:
        cli(args=hoist(sys.argv[1:]))
    except SystemExit as exc:
        code = exc.code
    if _LIVE:
        sys.exit(code)
    gc.disable()  # nothing is left to collect that the exit would not free anyway
    if "storage.db" in sys.modules:
        from storage.db import close_all

        close_all()
    logger.remove()  # waits for the sinks: every log line is written
    logging.shutdown()
    status = code if isinstance(code, int) else (0 if code is None else 1)
    if not isinstance(code, int | None):
        print(code, file=sys.stderr)  # sys.exit("text") prints its text, as the interpreter would
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: the interpreter's own exit says 120
            status = status or 120
    os._exit(status)


if __name__ == "__main__":
    launch()
