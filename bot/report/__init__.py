"""Markdown reports, pull request bodies and comments."""
