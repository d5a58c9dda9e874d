-- wrk script for the request-body workloads: every request is a POST of the JSON file named by
-- $BENCH_POST_BODY (a JSON-RPC call), so the filter reads the body where a route needs it.
local f = assert(io.open(os.getenv("BENCH_POST_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
