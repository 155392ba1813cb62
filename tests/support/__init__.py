"""Helpers shared by test folders (sandboxes, receivers)."""
