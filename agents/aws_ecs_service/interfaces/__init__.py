"""Entry points for people and tools: the `ecs-agent` command, its chat and demo, and the MCP server."""
