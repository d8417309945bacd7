"""Lambda handlers of the incident state machine (state_machine.asl.json), one module per step."""
