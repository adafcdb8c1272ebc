"""我的ID: a member's own contact id (and the group's), privately — what an operator needs for bot.admins and bot.rooms."""

from __future__ import annotations

from bot.dispatch import Context, Reply, command


@command("我的ID", aliases=("我的id", "myid"))
async def my_id(ctx: Context, args: str) -> list[Reply]:
    """查看我的 ID 和本群 ID（私聊发送）"""
    data = {"member": ctx.sender, "room": ctx.room, "room_name": ctx.room_name}
    if ctx.room is None:
        return [Reply("me/id", data, private=True)]
    # ids stay out of the group: it only hears that they were sent (or, to a non-friend, how to get them)
    fallback = Reply("me/not_friend", {"member_name": ctx.sender_name}, room=ctx.room, mentions=(ctx.sender,),
                     names={ctx.sender: ctx.sender_name})
    return [ctx.reply("me/sent"), Reply("me/id", data, to=ctx.sender, fallback=fallback)]
