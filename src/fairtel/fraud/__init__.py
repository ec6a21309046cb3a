"""fraud: see README.md in this folder."""
