"""Incidents in the serverless runtime: event intake, incident keys, PostgreSQL stores, workflow steps."""
