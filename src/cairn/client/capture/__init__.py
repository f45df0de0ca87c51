"""What a run records about its process beyond what it logs: system metrics and console output."""
