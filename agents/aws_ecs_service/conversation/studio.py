"""The graph `langgraph dev` (LangGraph Studio) and LangGraph Platform serve: langgraph.json names this file.

They load it by its file path, not as a package module, so it imports the package absolutely (the package is
installed by langgraph.json's `dependencies`).
"""
from agents.aws_ecs_service.conversation.graph import make_graph

__all__ = ["make_graph"]
