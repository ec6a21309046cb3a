"""privacy: see README.md in this folder."""
