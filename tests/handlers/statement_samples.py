"""The statement templates" sample data, kept in handlers/lib/samples.py where check-config reads it."""

from handlers.lib.samples import STATEMENT, STATEMENT_SAMPLES

__all__ = ["STATEMENT", "STATEMENT_SAMPLES"]
