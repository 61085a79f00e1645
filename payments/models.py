"""Payment data and invariants; filled in by the payment core."""
