"""An MCP server built with the official SDK (Streamable HTTP, answers as SSE), for the e2e tests.

usage: mcp_server.py PORT [EVENTS GAP_SECONDS]

Tools: get_balance, list_cards (allowed), delete_account (a policy rule denies it),
refund_payment (needs an approved grant), get_card (streams EVENTS log notifications GAP_SECONDS
apart, each with a card number and the time it was sent, then returns a card number).
"""

import asyncio
import sys
import time

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings

PORT = int(sys.argv[1])
EVENTS = int(sys.argv[2]) if len(sys.argv) > 2 else 4
GAP = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
CARD = "4111111111111111"

app = MCPServer("payments")


@app.tool()
def get_balance(account: str) -> str:
    return f"{account}: 120.00 EUR"


@app.tool()
def list_cards(account: str) -> str:
    return f"{account}: 1 card"


@app.tool()
def delete_account(account: str) -> str:
    return f"{account} deleted"


@app.tool()
def refund_payment(payment: str) -> str:
    return f"{payment} refunded"


@app.tool()
async def get_card(account: str, ctx: Context) -> str:
    for i in range(EVENTS):
        await ctx.info(f"event {i} sent_at={time.time():.6f} card {CARD}")
        await asyncio.sleep(GAP)
    return f"{account}: card {CARD}"


app.run(
    "streamable-http",
    host="127.0.0.1",
    port=PORT,
    transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
)
