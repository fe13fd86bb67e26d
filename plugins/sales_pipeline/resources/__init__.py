"""Desired state of each AWS resource (pure functions of the config) and ensure/verify/delete."""
