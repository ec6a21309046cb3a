"""care: see README.md in this folder."""
