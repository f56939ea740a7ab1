"""Models of the transactions app."""
