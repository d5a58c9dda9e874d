#!/usr/bin/env python3
"""Prints the policy embedded in a demo config (the filter's `value: |` block; envoy/demo.yaml
unless another is given, such as envoy/demo-dynamic.yaml), so `make run` starts the approvals
service on exactly the policy the filter enforces."""
import json
import sys

lines = open(sys.argv[1] if len(sys.argv) > 1 else "envoy/demo.yaml").read().splitlines()
start = next(i for i, l in enumerate(lines) if l.strip() == "value: |") + 1
indent = len(lines[start]) - len(lines[start].lstrip())
block = []
for l in lines[start:]:
    if l.strip() and len(l) - len(l.lstrip()) < indent:
        break
    block.append(l[indent:])
print(json.dumps(json.loads("\n".join(block)), indent=2))
