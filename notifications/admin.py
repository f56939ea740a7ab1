"""Admin pages of the notifications app."""
