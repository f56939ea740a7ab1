"""Models of the receivers app."""
