"""帮助: every command with its one-line help, taken from the handlers' docstrings."""

from __future__ import annotations

from bot.dispatch import Context, Reply, command


@command("帮助", aliases=("菜单", "help", "命令"))
async def help_(ctx: Context, args: str) -> Reply:
    """查看所有命令"""
    rows = [
        {"keyword": kw, "help": text, "usage": usage, "admin": admin}
        for kw, text, usage, admin in ctx.matcher.entries(admin=ctx.is_admin)
    ]
    return ctx.reply("help/list", commands=rows, is_admin=ctx.is_admin)
