"""Points expiry: the daily run that expires what is due and warns members before."""
