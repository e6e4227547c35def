"""Helpers for tests that drive real third-party tools (kubectl)."""
