"""consent: see README.md in this folder."""
