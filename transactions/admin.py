"""Admin pages of the transactions app."""
