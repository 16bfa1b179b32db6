"""The coordination tools agents call through `lanes-tui mcp` (tools.py) and their MCP server (server.py)."""
