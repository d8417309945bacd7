"""Deterministic diagnosis: evidence collection, the rule table, classification."""
