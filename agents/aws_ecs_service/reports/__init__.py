"""Markdown rendering of triage, plan, verification and summary reports, and where they are stored."""
