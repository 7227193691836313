"""Offline tooling: run the program without a cloud (harness, plan, audit, diff, inventory)."""
