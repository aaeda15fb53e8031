"""Embedded-server pytest fixtures (see hpcq.testing)."""
