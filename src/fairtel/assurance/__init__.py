"""assurance: see README.md in this folder."""
