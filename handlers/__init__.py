"""Feature handlers; importing this package registers every command, job and listener, in help order."""

from handlers import checkin, points, help  # noqa: F401, I001  (this order is the order of 帮助)
