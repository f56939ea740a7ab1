"""Admin pages of the receivers app."""
