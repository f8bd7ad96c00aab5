"""Reliability suite: kills, hostile responses, input properties and secret hygiene."""
