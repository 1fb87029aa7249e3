"""The project's own package named ``workloads``."""

SIZES = (1, 2, 3)
