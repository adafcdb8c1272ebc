"""The mall templates" sample data, kept in handlers/lib/samples.py where check-config reads it."""

from handlers.lib.samples import ITEM, MALL_SAMPLES, ORDER

__all__ = ["ITEM", "MALL_SAMPLES", "ORDER"]
