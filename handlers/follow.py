"""Follow rewards (关注 CODE): the claim code from the official account pays once per account."""
