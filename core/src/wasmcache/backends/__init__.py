"""Backends built into the core distribution (registered as internal plugins)."""
