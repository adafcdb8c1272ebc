"""Operator commands: 加分 / 扣分 by @-mention ids (admins only), and 明细 for every member."""
