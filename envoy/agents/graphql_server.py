"""A GraphQL server on graphql-core (the reference implementation), for the e2e tests.

usage: graphql_server.py PORT

POST /graphql executes {query, operationName, variables}; GET /_executed lists the operations
it ran (type and name), so a test can tell a blocked mutation never reached it.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from graphql import OperationType, build_schema, get_operation_ast, graphql_sync, parse

SCHEMA = build_schema(
    """
    type Payment { id: ID!, amount: String!, card: String! }
    type Query { payments: [Payment!]! }
    type Mutation { refundPayment(id: ID!): Payment! }
    """
)
PAYMENT = {"id": "p_1", "amount": "12.00", "card": "4111111111111111"}
ROOT = {"payments": lambda info: [PAYMENT], "refundPayment": lambda info, id: {**PAYMENT, "id": id}}
EXECUTED = []


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.reply(200, EXECUTED)

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
        name = req.get("operationName")
        op = get_operation_ast(parse(req["query"]), name)
        EXECUTED.append({"type": op.operation.value if op else None, "name": name})
        result = graphql_sync(SCHEMA, req["query"], root_value=ROOT,
                              variable_values=req.get("variables"), operation_name=name)
        doc = {"data": result.data}
        if result.errors:
            doc["errors"] = [e.formatted for e in result.errors]
        self.reply(200, doc)


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
