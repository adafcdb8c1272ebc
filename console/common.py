"""What every console screen shares: the refusal a route raises, masking of personal fields, response headers."""

from __future__ import annotations

from datetime import date

HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "same-origin",
           "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"}


# what an operator reads for each ledger kind (pages, CSV); the stored values stay English
KIND_LABELS = {
    "checkin": "每日签到", "checkin_streak": "连续签到奖励", "checkin_total": "累计签到奖励", "makeup": "补签",
    "newcomer": "新人礼", "invite": "邀请奖励", "invite_revoke": "邀请撤回", "task": "任务奖励",
    "task_revoke": "任务奖励撤回", "follow": "关注奖励", "profile": "完善资料", "admin_award": "管理员加分",
    "admin_deduct": "管理员扣分", "redeem": "兑换商品", "refund": "退款", "quiz": "问答奖励", "expire": "积分过期",
    "reversal": "撤销", "import": "迁入余额",
}


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def mask(value: str) -> str:
    """What a page shows of a personal field before a reveal: its first and last character at most."""
    v = str(value)
    if len(v) <= 2:
        return "*" * len(v)
    if len(v) >= 7:
        return v[:3] + "*" * (len(v) - 5) + v[-2:]
    return v[0] + "*" * (len(v) - 2) + v[-1]


def as_int(v: str | None) -> int | None:
    return int(v) if v and v.isdecimal() and len(v) < 19 else None


def as_day(v: str) -> date | None:
    try:
        return date.fromisoformat(v) if v else None
    except ValueError:
        return None


def one_line(text: str) -> str:
    """A reason as typed, its whitespace runs made one space."""
    return " ".join(text.split())
