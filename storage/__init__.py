"""Tables and the ledger service: the only code that writes the database."""
