"""Campaign phase posts (预热 / 正式 / 收尾) from the `campaign` job."""
