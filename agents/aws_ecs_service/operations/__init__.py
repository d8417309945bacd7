"""Operations sub-agents: triage, planner, remediator, verifier, reporter (one module each)."""
