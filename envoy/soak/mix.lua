-- wrk script for `make soak` (envoy/tests/soak.rs): cycles through the requests listed in the
-- file given as the first argument (one per line: METHOD PATH AUTHORIZATION-or--), and scans
-- every response body for clear card numbers the upstream sends.
local requests = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    local method, path, auth = line:match("^(%S+) (%S+) (%S+)$")
    local headers = {}
    if auth ~= "-" then headers["authorization"] = "Bearer " .. auth end
    table.insert(requests, wrk.format(method, path, headers, nil))
  end
  f:close()
  counter = math.random(#requests)
  responses, leaks, s2xx, s4xx, s5xx = 0, 0, 0, 0, 0
end

function request()
  counter = counter % #requests + 1
  return requests[counter]
end

local clear = { "4111111111111111", "4111 1111 1111 1111", "5555555555554444", "5555 5555 5555 4444", "378282246310005" }

function response(status, headers, body)
  responses = responses + 1
  if status < 300 then s2xx = s2xx + 1 elseif status < 500 then s4xx = s4xx + 1 else s5xx = s5xx + 1 end
  if body then
    for _, c in ipairs(clear) do
      if body:find(c, 1, true) then leaks = leaks + 1; break end
    end
  end
end

function done(summary, latency, requests)
  local r, l, a, b, c = 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    r = r + t:get("responses"); l = l + t:get("leaks")
    a = a + t:get("s2xx"); b = b + t:get("s4xx"); c = c + t:get("s5xx")
  end
  io.write(string.format("SOAK-WRK responses=%d leaks=%d 2xx=%d 4xx=%d 5xx=%d errors=%d\n",
    r, l, a, b, c, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
