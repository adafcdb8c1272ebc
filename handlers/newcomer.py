"""New-member points: paid on joining or claimed with 新人礼 within a window; the welcome message."""
