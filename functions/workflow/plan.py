"""Workflow step: plan (logic in agents.aws_ecs_service.incidents.workflow_steps)."""
from agents.aws_ecs_service.incidents import workflow_steps

from .step_runtime import step_handler

handler = step_handler(workflow_steps.plan)
