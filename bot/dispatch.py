"""Keyword routing: handlers register by keyword and aliases; matching is pure; the admin gate lives here."""

from __future__ import annotations

import inspect
import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from bot.errors import NotAdmin, WrongPlace


@dataclass
class Reply:
    """What a handler wants said: a template and its data; the dispatcher renders and routes it.

    `private=True` sends it to the member privately (secrets never go into a group); `broadcast=True`
    (from scheduled jobs) posts it to every group the job serves.
    """

    template: str
    data: dict[str, Any] = field(default_factory=dict)
    private: bool = False
    mention: bool = True
    broadcast: bool = False
    room: str | None = None
    to: str | None = None
    mentions: tuple[str, ...] = ()  # @-mention these contacts instead of the sender (a welcome, ...)
    names: dict[str, str] = field(default_factory=dict)  # their display names, for transports that write @name
    # said instead, in the chat the command came from, when this (private) reply cannot be delivered
    fallback: Reply | None = None
    # an image to send (its file, or what draws it when it is sent: Outgoing.draw); the rendered text is its
    # text version (Outgoing.image)
    image: str | Callable[[], str | None] | None = None
    # in a burst, the outbox may answer this group reply by a digest rendered from this template instead
    # (Outgoing.digest): only for replies whose whole news the digest's line tells truly
    digest: str | None = None


HandlerResult = Reply | Sequence[Reply] | None


@dataclass
class Context:
    """What a handler may look at: the event's who/where/when and the services the app wired in."""

    now: datetime
    day: date
    settings: Any
    services: Any
    sender: str = ""
    sender_name: str = ""
    room: str | None = None
    room_name: str = ""
    event_id: str = ""
    mentions: tuple[str, ...] = ()
    is_admin: bool = False
    keyword: str = ""
    matcher: Any = None
    registry: Registry | None = None  # what the app dispatches with (取消 looks up a conversation's cancel step)
    text: str = ""  # the message as typed (mentions, spacing and case intact)
    campaigns: dict[str, str] = field(default_factory=dict)  # section -> campaign overriding it now
    glued: bool = False  # the argument followed the keyword with no space ("答8"): it may be chat, not a command
    rooms: tuple[str, ...] = ()  # a scheduled job's run: the groups it posts to (a broadcast reaches these)
    # what a member must type before a command in a group on this transport ("@积分助手 " on WeCom), or ""
    mention_hint: str = ""

    def campaign(self, section: str) -> str | None:
        """The campaign whose override of `section` is in force, to record on the entries it pays."""
        return self.campaigns.get(section)

    def reply(self, template: str, **data: Any) -> Reply:
        return Reply(template=template, data=data)


Handler = Callable[[Context, str], Awaitable[HandlerResult]]
JobFunc = Callable[[Context], Awaitable[HandlerResult]]
Listener = Callable[[Context, Any], Awaitable[HandlerResult]]
ConversationStep = Callable[[Context, str, Any], Awaitable[HandlerResult]]
AfterHook = Callable[[Context], Awaitable[HandlerResult]]
CancelStep = Callable[[Context, Any], Awaitable[HandlerResult]]
# what a command's message is answered with when its handler let this kind of exception through (a refusal
# storage raises wherever it is met, such as a frozen member's): runs in a fresh savepoint, the handler's undone
RefusalStep = Callable[[Context, BaseException], Awaitable[HandlerResult]]


@dataclass
class Command:
    keyword: str
    func: Handler
    aliases: tuple[str, ...] = ()
    admin: bool = False
    where: str = "any"  # any | group | private
    feature: str | None = None  # config section that must be present for the command to be on
    config_aliases: Callable[[Any], Iterable[str]] | None = None
    order: int = 0
    glue: bool = False  # its argument may follow the keyword glued even when it starts with a Chinese character

    @property
    def takes_args(self) -> bool:
        """Its usage line names an argument (the second line of its docstring says more than the keyword)."""
        return self.usage.strip() != self.keyword

    @property
    def help(self) -> str:
        doc = inspect.getdoc(self.func) or ""
        return doc.splitlines()[0] if doc else ""

    @property
    def usage(self) -> str:
        lines = (inspect.getdoc(self.func) or "").splitlines()
        return lines[1].strip() if len(lines) > 1 and lines[1].strip() else self.keyword


@dataclass
class Registry:
    commands: list[Command] = field(default_factory=list)
    jobs: dict[str, JobFunc] = field(default_factory=dict)
    on_join: list[Listener] = field(default_factory=list)
    on_leave: list[Listener] = field(default_factory=list)
    conversations: dict[str, ConversationStep] = field(default_factory=dict)
    # conversation kind -> what 取消 does besides dropping it (the parcel address refunds its order)
    cancels: dict[str, CancelStep] = field(default_factory=dict)
    # run after every handled message, join/leave and job, in its savepoint; may add replies (a level-up)
    after: list[AfterHook] = field(default_factory=list)
    # job name -> (job run `offset(settings)` after each of its runs, offset): a quiz's closing
    followups: dict[str, tuple[str, Callable[[Any], Any]]] = field(default_factory=dict)
    # job name -> its cron from the settings (None: not now): jobs that run without a [[schedule]] entry
    standing: dict[str, Callable[[Any], str | None]] = field(default_factory=dict)
    # jobs whose point is a post to groups: due inside quiet hours, they run (and render) when those end
    posts: set[str] = field(default_factory=set)
    # exception type -> the answer to a message whose handler raised it (see RefusalStep)
    refusals: dict[type[BaseException], RefusalStep] = field(default_factory=dict)

    def command(
        self,
        keyword: str,
        *,
        aliases: Sequence[str] = (),
        admin: bool = False,
        where: str = "any",
        feature: str | None = None,
        config_aliases: Callable[[Any], Iterable[str]] | None = None,
        glue: bool = False,
    ) -> Callable[[Handler], Handler]:
        """`glue=True`: "答八点" as well as "答8" and "答 八点" (see Matcher.match)."""

        def register(func: Handler) -> Handler:
            self.commands = [c for c in self.commands if c.keyword != keyword]
            self.commands.append(Command(keyword, func, tuple(aliases), admin, where, feature, config_aliases,
                                         order=len(self.commands), glue=glue))
            return func

        return register

    def job(self, name: str, *, then: str | None = None, after: Callable[[Any], Any] | None = None,
            standing: Callable[[Any], str | None] | None = None, posts: bool = False) -> Callable[[JobFunc], JobFunc]:
        """Register a scheduled job; with `then`, every run of it is followed by job `then`
        `after(settings)` (a timedelta) later, in the same groups, without a schedule entry of its own.
        With `standing`, the job runs on the cron `standing(settings)` gives (None: off), no entry needed.
        With `posts`, a run due inside quiet hours runs when they end, so its post says what is true then
        (a job whose effect belongs to its time, like expiring points or closing a quiz, runs on time)."""

        def register(func: JobFunc) -> JobFunc:
            self.jobs[name] = func
            if then is not None and after is not None:
                self.followups[name] = (then, after)
            if standing is not None:
                self.standing[name] = standing
            if posts:
                self.posts.add(name)
            return func

        return register

    def conversation(self, kind: str) -> Callable[[ConversationStep], ConversationStep]:
        """Register what answers a message (no command) while a conversation of `kind` is pending."""

        def register(func: ConversationStep) -> ConversationStep:
            self.conversations[kind] = func
            return func

        return register

    def cancel(self, kind: str) -> Callable[[CancelStep], CancelStep]:
        """Register what 取消 does, besides dropping the conversation, while one of `kind` is pending."""

        def register(func: CancelStep) -> CancelStep:
            self.cancels[kind] = func
            return func

        return register

    def refusal(self, kind: type[BaseException]) -> Callable[[RefusalStep], RefusalStep]:
        """Register the answer to any command or conversation step that raises `kind` (or a subclass)."""

        def register(func: RefusalStep) -> RefusalStep:
            self.refusals[kind] = func
            return func

        return register

    def refusal_for(self, exc: BaseException) -> RefusalStep | None:
        for kind, step in self.refusals.items():
            if isinstance(exc, kind):
                return step
        return None

    def after_event(self, func: AfterHook) -> AfterHook:
        self.after.append(func)
        return func

    def joined(self, func: Listener) -> Listener:
        self.on_join.append(func)
        return func

    def left(self, func: Listener) -> Listener:
        self.on_leave.append(func)
        return func


REGISTRY = Registry()
command = REGISTRY.command
job = REGISTRY.job
on_join = REGISTRY.joined
on_leave = REGISTRY.left
conversation = REGISTRY.conversation
on_cancel = REGISTRY.cancel
after_event = REGISTRY.after_event
on_refusal = REGISTRY.refusal


# -- matching (pure) ------------------------------------------------------------------------------

_MENTION = re.compile(r"^@(\S+?)(?:[\s\u2005]+|$)")
_SPACE = re.compile(r"[\s\u2005\u3000]+")


def _is_edge_noise(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return ch.isspace() or ch == "\u2005" or cat[0] in ("P", "S", "Z") or cat == "Cf"


def normalize(text: str) -> str:
    """Full-width to half-width, spaces collapsed, punctuation and emoji trimmed from both ends."""
    t = unicodedata.normalize("NFKC", text)
    t = _SPACE.sub(" ", t)
    start, end = 0, len(t)
    while start < end and _is_edge_noise(t[start]) and t[start] != "@":
        start += 1
    while end > start and _is_edge_noise(t[end - 1]):
        end -= 1
    return t[start:end]


def strip_bot_mention(text: str, bot_name: str, bot_id: str, mentions: Sequence[str]) -> str:
    """Drop leading @-mentions of the bot ("@积分助手 签到"); a mention of anyone else stays."""
    name = unicodedata.normalize("NFKC", bot_name)
    while text.startswith("@"):
        m = _MENTION.match(text)
        if m is None:
            break
        if m.group(1) == name or (bot_id in mentions and not name):
            text = text[m.end():]
        elif bot_id in mentions and len(mentions) == 1:
            # the only mention in the message is the bot, whatever name the client wrote
            text = text[m.end():]
        else:
            break
        text = normalize(text)
    return text


def _lookup(settings: Any, path: str) -> Any:
    """settings.checkin.makeup for "checkin.makeup"; None when any part is missing."""
    for part in path.split("."):
        settings = getattr(settings, part, None)
        if settings is None:
            return None
    return settings


class Matcher:
    """Keyword -> command table for one configuration; first registered wins on a tie."""

    def __init__(self, commands: Sequence[Command], settings: Any) -> None:
        self.table: dict[str, Command] = {}
        self.commands: list[Command] = []
        self.display: dict[str, str] = {}  # command keyword -> the word members are told to type
        for c in sorted(commands, key=lambda c: c.order):
            if c.feature and _lookup(settings, c.feature) is None:
                continue
            self.commands.append(c)
            configured = [w for w in (c.config_aliases(settings) if c.config_aliases else ()) if normalize(w)]
            words = configured or [c.keyword, *c.aliases]
            self.display[c.keyword] = words[0]
            for w in words:
                key = normalize(w).lower()
                if key and key not in self.table:
                    self.table[key] = c
        # longest keyword first, so "我的订单" beats "我的"
        self._order = sorted(self.table, key=len, reverse=True)

    def entries(self, admin: bool) -> list[tuple[str, str, str, bool]]:
        """(keyword to type, one-line help, usage, admin only) for 帮助; admin commands only for admins."""
        return [
            (self.display[c.keyword], c.help, c.usage.replace(c.keyword, self.display[c.keyword], 1), c.admin)
            for c in self.commands
            if admin or not c.admin
        ]

    def match(self, text: str) -> Match | None:
        """The command `text` calls and its arguments, or None when it is not a command.

        Keywords match without regard to case ("Help"); the arguments keep theirs. The longest keyword
        that starts the text wins. Its arguments follow a space, a colon ("关注：A1B2", full-width forms
        are half-width by now), or nothing at all ("兑换1", "加分@Bob 10") — glued only for a command that
        takes arguments, and, unless the command says `glue`, only when the argument does not start with
        a Chinese character, so that chat such as "积分多少" or "兑换码在哪" is not taken for a command.
        """
        low = text.lower()
        if len(low) != len(text):  # a rare character whose lower case is longer: match as typed
            low = text
        if low in self.table:
            return Match(self.table[low], low, "", False)
        for kw in self._order:
            if not low.startswith(kw) or len(low) == len(kw):
                continue
            cmd, nxt = self.table[kw], low[len(kw)]
            if nxt == " " or (nxt == ":" and cmd.takes_args):
                rest = text[len(kw) + 1:].strip()
                if cmd.takes_args and rest.startswith(":"):  # "上架 ： mug"
                    rest = rest[1:].strip()
                return Match(cmd, kw, rest, False)
            if cmd.takes_args and (cmd.glue or not _chinese(nxt)):
                return Match(cmd, kw, text[len(kw):].strip(), True)
        return None


class Match(NamedTuple):
    command: Command
    keyword: str  # as matched (lower case)
    args: str
    glued: bool  # the argument followed the keyword with no space or colon


def _chinese(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\U00020000" <= ch <= "\U0003134f"


def gate(cmd: Command, ctx: Context) -> None:
    """Refuse a command the sender may not run here; raises a UserError the member reads."""
    if cmd.admin and not ctx.is_admin:
        raise NotAdmin("只有管理员可以使用这个命令", keyword=cmd.keyword)
    if cmd.where == "group" and ctx.room is None:
        raise WrongPlace("请在群里发送", keyword=cmd.keyword, where="group")
    if cmd.where == "private" and ctx.room is not None:
        raise WrongPlace("请私聊我发送", keyword=cmd.keyword, where="private")
