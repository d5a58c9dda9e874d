-- wrk script for the "cold" token workloads: each request carries the next of a few thousand
-- distinct valid tokens (one per line in the file named by $BENCH_TOKENS), more than any JWT
-- cache holds (jwt_authn: 100, pci-guard: 256), so every request verifies a signature.
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do
  tokens[#tokens + 1] = "Bearer " .. line
end
local i = 0
request = function()
  i = i % #tokens + 1
  wrk.headers["Authorization"] = tokens[i]
  return wrk.format()
end
