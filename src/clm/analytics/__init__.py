"""Pure computation over Ibis tables with an explicit ``as_of``: no clock, no store, no I/O."""
