"""The task tools for AI agents, over MCP at `/mcp`: the same repository, validation and token as REST."""
