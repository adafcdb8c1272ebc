"""Feature handlers; importing this package registers every command, job, listener and config section, in help order."""

from handlers import (  # noqa: F401, I001  (this order is the order of 帮助)
    checkin,
    points,
    levels,
    tasks,
    invites,
    newcomer,
    profile,
    follow,
    mall,
    mall_admin,
    quiz,
    campaigns,
    statement,
    expiry,
    admin,
    undo,
    freeze,
    announce,
    me,
    help,
)
