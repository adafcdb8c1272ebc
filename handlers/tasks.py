"""Tier tasks (任务): invites, check-in days and streaks pay tiers once; reversals take tiers back."""
