"""Use cases: the only code that writes. Each owns its transaction and its audit trail."""
