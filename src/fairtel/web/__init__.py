"""web: see README.md in this folder."""
