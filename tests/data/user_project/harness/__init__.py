"""The project's own package named ``harness`` (not the soak harness)."""

PREFIX = "inv"
