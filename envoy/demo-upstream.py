#!/usr/bin/env python3
"""The demo payment API behind Envoy for `make run`: answers every request with JSON that
holds card data (public test numbers), so the filter's work is visible. Loopback only."""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def answer(self):
        body = json.dumps({
            "id": self.path.rstrip("/").split("/")[-1] or "root",
            "method": self.command,
            "path": self.path,
            "card": {"number": "4111 1111 1111 1111", "cvv": "123", "exp": "12/30"},
            "note": "served by the demo upstream",
        }).encode() + b"\n"
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = answer

    def log_message(self, fmt, *args):
        sys.stderr.write("upstream: " + (fmt % args) + "\n")


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8081
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
