"""The coordination tools agents call through `lanes-tui mcp` (tools.py) and their MCP server on stdio
(catalog.py: the schemas the model reads; stdio_server.py: the protocol)."""
