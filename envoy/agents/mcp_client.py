"""An MCP client built with the official SDK, for the e2e tests; prints one JSON object.

usage: mcp_client.py URL TOKEN MODE
  calls     initialize, list tools, call get_balance, delete_account, refund_payment
  stream    call get_card; for each log notification, when it was sent and when it arrived
  discover  POST without a token, then find the protected-resource metadata the way the
            SDK's OAuth client does (WWW-Authenticate resource_metadata, then well-known URLs)
"""

import asyncio
import json
import re
import sys
import time

import httpx2
from mcp import ClientSession
from mcp.client.auth.utils import (
    build_protected_resource_metadata_discovery_urls,
    extract_resource_metadata_from_www_auth,
    handle_protected_resource_response,
)
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

URL, TOKEN, MODE = sys.argv[1], sys.argv[2], sys.argv[3]


def error_of(e: MCPError) -> dict:
    err = e.error
    return {"code": err.code, "message": err.message, "data": err.data}


async def call(session: ClientSession, name: str, args: dict) -> dict:
    try:
        r = await session.call_tool(name, args)
        text = " ".join(c.text for c in r.content if getattr(c, "text", None))
        return {"ok": not r.is_error, "text": text}
    except MCPError as e:
        return {"ok": False, "error": error_of(e)}


async def calls() -> dict:
    headers = {"authorization": f"Bearer {TOKEN}"}
    async with create_mcp_http_client(headers=headers) as http:
        async with streamable_http_client(URL, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = [t.name for t in (await session.list_tools()).tools]
                out = {"tools": tools}
                out["get_balance"] = await call(session, "get_balance", {"account": "a_1"})
                out["delete_account"] = await call(session, "delete_account", {"account": "a_1"})
                out["refund_payment"] = await call(session, "refund_payment", {"payment": "p_1"})
                return out


async def stream() -> dict:
    events = []

    async def on_log(params) -> None:
        arrived = time.time()
        data = str(params.data)
        m = re.search(r"sent_at=([0-9.]+)", data)
        events.append({"data": data, "sent_at": float(m.group(1)) if m else None, "arrived_at": arrived})

    headers = {"authorization": f"Bearer {TOKEN}"}
    async with create_mcp_http_client(headers=headers) as http:
        async with streamable_http_client(URL, http_client=http) as (read, write):
            async with ClientSession(read, write, logging_callback=on_log) as session:
                await session.initialize()
                result = await call(session, "get_card", {"account": "a_1"})
                return {"result": result, "events": events}


async def discover() -> dict:
    async with httpx2.AsyncClient() as http:
        body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
        r = await http.post(URL, json=body, headers={"accept": "application/json, text/event-stream"})
        out = {"status": r.status_code, "www_authenticate": r.headers.get("www-authenticate")}
        hinted = extract_resource_metadata_from_www_auth(r)
        out["resource_metadata"] = hinted
        for url in build_protected_resource_metadata_discovery_urls(hinted, URL):
            meta = await handle_protected_resource_response(await http.get(url))
            if meta is not None:
                out["found_at"] = url
                out["metadata"] = json.loads(meta.model_dump_json(exclude_none=True))
                break
        return out


MODES = {"calls": calls, "stream": stream, "discover": discover}
print(json.dumps(asyncio.run(MODES[MODE]())))
