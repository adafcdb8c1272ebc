"""Every idempotency key (ledger keys, claimed event ids) in one place: the strings are what is stored."""

from __future__ import annotations

from datetime import date, datetime


def checkin(day: date, member: str) -> str:
    # day first: today's keys sit together at the end of the key index however large it grows
    return f"checkin:{day.isoformat()}:{member}"


def checkin_bonus(base: str, kind: str, line: int) -> str:
    """A check-in's second and later reward lines (streak, cumulative bonuses)."""
    return f"{base}:{kind}:{line}"


def late_checkin_bonus(day: date, member: str, kind: str, days: int) -> str:
    """A bonus a late check-in of `day` paid (one that came after a later day's): the bonus of `days` days."""
    return f"{checkin(day, member)}:{kind}:d{days}"


def makeup(member: str, day: date) -> str:
    return f"makeup:{member}:{day.isoformat()}"


def makeup_bonus(member: str, day: date, kind: str, days: int) -> str:
    """A bonus a makeup of `day` paid: the streak or cumulative bonus of `days` days."""
    return f"{makeup(member, day)}:{kind}:{days}"


def imported(member: str) -> str:
    """The one entry that brought `member`'s balance in from another system."""
    return f"import:{member}"


def redeem(event_id: str, member: str) -> str:
    return f"redeem:{event_id}:{member}"


def refund(order_key: str) -> str:
    return f"{order_key}:refund"


def newcomer(member: str, room: str, scope: str) -> str:
    return f"newcomer:{member}" if scope == "company" else f"newcomer:{member}:{room}"


def invite(event_id: str, invitee: str) -> str:
    return f"invite:{event_id}:{invitee}"


def clawback(original_key: str) -> str:
    """The reversal of an invite or a task tier."""
    return f"{original_key}:revoke"


def task_tier(member: str, task: str, tier_at: int, generation: int) -> str:
    return f"task:{member}:{task}:{tier_at}:{generation}"


def quiz(round_id: int, member: str) -> str:
    return f"quiz:{round_id}:{member}"


def expire(day: date, member: str) -> str:
    return f"expire:{day.isoformat()}:{member}"


def profile(member: str) -> str:
    return f"profile:{member}"


def follow(account: str, member: str) -> str:
    return f"follow:{account}:{member}"


def admin(kind: str, event_id: str, sender: str, member: str) -> str:
    """An operator's 加分 / 扣分 of `member`, from the source message (a replay changes nothing)."""
    return f"{kind}:{event_id}:{sender}:{member}"


def undo(event_id: str, sender: str) -> str:
    """An operator's 撤销, from the source message: one message undoes one entry, once."""
    return f"reversal:{event_id}:{sender}"


def quiz_round(event_id: str, due: datetime) -> str:
    """A quiz round: the schedule entry's run and its due time."""
    return f"{event_id}:{due.isoformat()}"


def campaign_phase(campaign: str, phase: str, event_id: str) -> str:
    """The claimed event id of a campaign's phase post by one schedule entry (before phases were per group)."""
    return f"campaign:{campaign}:{phase}:{event_id}"


def campaign_phase_in(campaign: str, phase: str, room: str) -> str:
    """The claimed event id of a campaign's phase post in one group."""
    return f"campaign-room:{campaign}:{phase}:{room}"


def console(kind: str, nonce: str, member: str) -> str:
    """A console user's 加分 / 扣分 / 撤销, from the form's one-time nonce: a form sent twice changes nothing."""
    return f"{kind}:console:{nonce}:{member}"
