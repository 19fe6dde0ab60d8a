"""Tasks: their JSON shapes and field rules, the list query, and the SQL that stores them.

Used by the REST routes (`routes/tasks.py`) and the MCP tools (`mcp/tools.py`) alike, so both
validate and store exactly the same way. It knows nothing of HTTP.
"""
