"""The domain: what an incident is about and what may change it. Imports nothing else of the agent."""
