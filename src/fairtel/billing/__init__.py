"""billing: see README.md in this folder."""
