"""insight: see README.md in this folder."""
