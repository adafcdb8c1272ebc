"""A member's personal data on request (成员页 → 个人数据): export it as a JSON file, or erase it, each with a
required reason and an operator-log row; operators only. The ledger's numbers are untouched (storage.privacy)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from loguru import logger
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from storage.accounts import Account
from storage.privacy import OrdersNeedAddress

Console = Any  # console.app.Console, which imports this module

MAX_REASON = 100


def _reason(form: dict[str, str]) -> str:
    return " ".join(form.get("reason", "").split())


async def export(console: Console, request: Request, user: Account, form: dict[str, str]) -> Response:
    member = request.path_params["member"]
    reason = _reason(form)
    data = console.st.privacy.export(member)
    if data is None:
        return console.page(request, "error.html", 404, user=user, message=f"没有成员 {member}")
    if not reason or len(reason) > MAX_REASON:
        return console.page(request, "member.html", 400, user=user,
                            error=f"导出个人数据需要写明理由（1–{MAX_REASON} 字），例如成员的申请",
                            **console.member_data(request, member))
    with console.st.db.transaction():
        console.st.oplog.record(at=console.now(), actor_kind="console", actor=user.name, action="export_personal",
                                target=member, detail={"profile_fields": sorted(data["profile"]),
                                                       "orders": [o["id"] for o in data["orders"]]}, reason=reason)
    logger.info("console: {} exported the personal data of {}", user.name, member)
    body = json.dumps({**data, "exported_at": console.now().astimezone(console.tz).isoformat(), "exported_by": user.name},
                      ensure_ascii=False, indent=2)
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in member)
    return Response(body, media_type="application/json; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="personal-{name}.json"',
                             "Cache-Control": "no-store"})


async def erase(console: Console, request: Request, user: Account, form: dict[str, str]) -> Response:
    member = request.path_params["member"]
    reason = _reason(form)
    if console.st.ledger.member(member) is None:
        return console.page(request, "error.html", 404, user=user, message=f"没有成员 {member}")
    problem = ""
    if not reason or len(reason) > MAX_REASON:
        problem = f"删除个人数据需要写明理由（1–{MAX_REASON} 字），例如成员的申请"
    elif form.get("confirm", "").strip() != member:
        problem = f"请在确认框里输入成员 ID「{member}」再删除（删除后无法恢复）"
    if problem:
        return console.page(request, "member.html", 400, user=user, error=problem, **console.member_data(request, member))
    try:
        with console.st.db.transaction():
            done = console.st.privacy.erase(member)
            console.st.oplog.record(at=console.now(), actor_kind="console", actor=user.name, action="erase_personal",
                                    target=member, detail={"profile_fields": done.profile_fields, "orders": done.orders,
                                                           "conversations": done.conversations}, reason=reason)
    except OrdersNeedAddress as why:
        return console.page(request, "member.html", 409, user=user, error=str(why), **console.member_data(request, member))
    logger.info("console: {} erased the personal data of {} ({} profile fields, {} orders)", user.name, member,
                done.profile_fields, done.orders)
    request.session["flash"] = (f"已删除 {member} 的个人数据：资料 {done.profile_fields} 项，{done.orders} 个订单的收货信息；"
                                "积分和账本不变")
    return RedirectResponse(f"{console.env.globals['base']}/members/{quote(member)}", 303)


async def freeze(console: Console, request: Request, user: Account, form: dict[str, str]) -> Response:
    """冻结 / 解冻 a member caught cheating: the same verb as the chat commands (storage.freezes), logged."""
    member = request.path_params["member"]
    op, reason = form.get("op", ""), _reason(form)
    if console.st.ledger.member(member) is None:
        return console.page(request, "error.html", 404, user=user, message=f"没有成员 {member}")
    problem = ""
    if op not in ("freeze", "unfreeze"):
        problem = "请选择冻结或解冻"
    elif not reason or len(reason) > MAX_REASON:
        problem = f"冻结或解冻需要写明理由（1–{MAX_REASON} 字）"
    if problem:
        return console.page(request, "member.html", 400, user=user, error=problem, **console.member_data(request, member))
    verb = console.st.freezes.freeze if op == "freeze" else console.st.freezes.unfreeze
    done = verb(member, actor=user.name, reason=reason, at=console.now(), actor_kind="console")
    word = "冻结" if op == "freeze" else "解冻"
    note = "：冻结期间不能赚积分、不能兑换，第一次被拒时会私信告诉本人" if op == "freeze" else ""
    request.session["flash"] = f"已{word} {member}{note}" if done.changed else f"{member} 已经是{word}状态：没有改动"
    logger.info("console: {} {} {} ({})", user.name, op, member, "changed" if done.changed else "unchanged")
    return RedirectResponse(f"{console.env.globals['base']}/members/{quote(member)}", 303)


def routes_for(console: Console) -> list[Any]:
    from starlette.routing import Route

    return [
        Route("/members/{member:path}/export", console.view(lambda r, u, f: export(console, r, u, f), write=True),
              methods=["POST"]),
        Route("/members/{member:path}/freeze", console.view(lambda r, u, f: freeze(console, r, u, f), write=True),
              methods=["POST"]),
        Route("/members/{member:path}/erase", console.view(lambda r, u, f: erase(console, r, u, f), write=True),
              methods=["POST"]),
    ]
