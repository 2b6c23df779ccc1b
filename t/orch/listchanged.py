#!/usr/bin/env python3
"""A minimal NDJSON MCP server for the orchestrator test: tools/list comes
in two pages (a; then b), and a call of "a" adds tool "c" and sends
notifications/tools/list_changed."""
import json
import sys

grown = False


def tool(name):
    return {"name": name, "description": "tool " + name,
            "inputSchema": {"type": "object"}}


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def reply(mid, result):
    send({"jsonrpc": "2.0", "id": mid, "result": result})


for line in sys.stdin:
    m = json.loads(line)
    method, mid = m.get("method"), m.get("id")
    if mid is None:
        continue
    if method == "initialize":
        reply(mid, {"protocolVersion": "2025-11-25",
                    "capabilities": {"tools": {"listChanged": True}},
                    "serverInfo": {"name": "listchanged", "version": "1"}})
    elif method == "tools/list":
        if (m.get("params") or {}).get("cursor") is None:
            reply(mid, {"tools": [tool("a")], "nextCursor": "page2"})
        else:
            reply(mid, {"tools": [tool("b")] + ([tool("c")] if grown else [])})
    elif method == "tools/call":
        grown = True
        reply(mid, {"content": [{"type": "text", "text": "grown"}]})
        send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
    elif method == "ping":
        reply(mid, {})
    else:
        send({"jsonrpc": "2.0", "id": mid,
              "error": {"code": -32601, "message": "Method not found"}})
