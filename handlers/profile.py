"""Profile completion (完善资料): a private conversation asks each field, validates it, pays once."""
