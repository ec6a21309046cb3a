"""synth: a synthetic operator with ground truth, for the demo, tests and benchmarks (see README.md)."""

from fairtel.synth._run import SynthError, SynthSummary, subscribers_for, synthesize

__all__ = ["SynthError", "SynthSummary", "subscribers_for", "synthesize"]
