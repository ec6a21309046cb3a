"""synth: see README.md in this folder."""
