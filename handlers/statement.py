"""我的账单: the member's personal statement of the year, as text and as a PNG card."""
