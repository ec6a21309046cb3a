"""api: see README.md in this folder."""
