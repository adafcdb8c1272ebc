"""The campaign templates" sample data, kept in handlers/lib/samples.py where check-config reads it."""

from handlers.lib.samples import CAMPAIGN, CAMPAIGN_SAMPLES

__all__ = ["CAMPAIGN", "CAMPAIGN_SAMPLES"]
