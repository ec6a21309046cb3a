"""rating: see README.md in this folder."""
