"""The operator console (后台): a Starlette app on the bot's web stack (bot/web.py), Chinese, usable on a phone.

Served by the bot process when `[console] enabled = true`, or alone by `python run_bot.py console`
against the configured database. Reads and writes through storage/ only; every change an operator
makes goes to the operator log (storage.oplog) in the change's own transaction.
"""
