"""engines: see README.md in this folder."""
