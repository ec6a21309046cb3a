"""mediation: see README.md in this folder."""
