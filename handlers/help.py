"""帮助: a short list in the group, every command privately, and 帮助 <主题或命令> for one topic or command."""

from __future__ import annotations

from typing import Any

from bot.dispatch import Command, Context, Reply, command, normalize

# what members use most: the group's 帮助 shows these (those that are on), and where to find the rest
MOST_USED = ("签到", "积分", "排行榜", "商城", "任务")
TOPICS = {"商城": "商城和兑换", "积分": "积分、签到和榜单"}
ADMIN_TOPIC = ("管理", "管理员")


def _topic(cmd: Command) -> str:
    return "商城" if (cmd.feature or "").startswith("mall") else "积分"


def _row(ctx: Context, cmd: Command) -> dict[str, Any]:
    shown = ctx.matcher.display.get(cmd.keyword, cmd.keyword)
    return {"keyword": shown, "help": cmd.help, "usage": cmd.usage.replace(cmd.keyword, shown, 1), "admin": cmd.admin}


def _rows(ctx: Context, *, topic: str | None = None, admin: bool = False) -> list[dict[str, Any]]:
    return [_row(ctx, c) for c in ctx.matcher.commands
            if c.admin == admin and (topic is None or admin or _topic(c) == topic)]


def _lookup(ctx: Context, word: str) -> Command | None:
    cmd = ctx.matcher.table.get(normalize(word).lower())
    return cmd if isinstance(cmd, Command) else None


@command("帮助", aliases=("菜单", "help", "命令"), glue=True)
async def help_(ctx: Context, args: str) -> Reply | None:
    """查看常用命令，「帮助 商城」「帮助 积分」看更多
    帮助 [商城 / 积分 / 命令]"""
    topic = normalize(args)
    if not topic:
        if ctx.room is not None:  # the group reads five lines, not thirty
            by_keyword = {c.keyword: c for c in ctx.matcher.commands}
            rows = [_row(ctx, by_keyword[k]) for k in MOST_USED if k in by_keyword]
            return ctx.reply("help/short", commands=rows, topics=_topics(ctx), is_admin=ctx.is_admin)
        # where members must @ the bot in a group (WeCom), the private list says so once, up front
        title = f"可用命令（在群里发命令要先 {ctx.mention_hint.strip()}）" if ctx.mention_hint else "可用命令"
        return ctx.reply("help/list", title=title, commands=_rows(ctx),
                         admin_commands=_rows(ctx, admin=True) if ctx.is_admin else [])
    if topic in TOPICS:
        return ctx.reply("help/list", title=TOPICS[topic], commands=_rows(ctx, topic=topic), admin_commands=[])
    if topic in ADMIN_TOPIC and ctx.is_admin:
        # admin commands are told to admins only, and only privately
        return Reply("help/list", {"title": "管理员命令", "commands": [], "admin_commands": _rows(ctx, admin=True)},
                     private=True)
    cmd = _lookup(ctx, topic)
    if cmd is not None and (not cmd.admin or ctx.is_admin):
        return Reply("help/one", {"command": _row(ctx, cmd)}, private=cmd.admin)
    if ctx.glued:
        return None  # "帮助我看看" is chat: stay out of it
    return ctx.reply("help/unknown", topic=topic, topics=_topics(ctx))


def _topics(ctx: Context) -> list[str]:
    """The topics of which some command is on."""
    on = {_topic(c) for c in ctx.matcher.commands if not c.admin}
    return [t for t in TOPICS if t in on]
