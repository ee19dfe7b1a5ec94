"""Helpers shared by several test files (importable as ``helpers``; see ``pythonpath`` in pyproject.toml)."""
