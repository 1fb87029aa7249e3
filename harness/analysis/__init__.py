"""Pure analysis: samples in, figures and verdicts out. No I/O, no pytest."""
