"""Experiments: create, search, read, change and delete, with per-experiment permissions."""
