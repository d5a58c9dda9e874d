-- loadbench setup "native": masks Luhn-valid card numbers (13 to 19 digits, optionally grouped
-- with spaces or dashes) in JSON response bodies, keeping the last four digits. Length-
-- preserving, so Content-Length stays right. Needs the whole body (response_handle:body()
-- buffers it): a number split across chunks is then still seen whole.

local function luhn(d)
  local sum, alt = 0, false
  for i = #d, 1, -1 do
    local n = d:byte(i) - 48
    if alt then
      n = n * 2
      if n > 9 then n = n - 9 end
    end
    sum = sum + n
    alt = not alt
  end
  return sum % 10 == 0
end

local function mask(m)
  local digits = m:gsub("%D", "")
  local n = #digits
  if n < 13 or n > 19 or not luhn(digits) then return nil end -- nil keeps the match
  local masked, seen = n - 4, 0
  return (m:gsub("%d", function(c)
    seen = seen + 1
    if seen <= masked then return "*" end
    return c
  end))
end

function envoy_on_response(handle)
  local ct = handle:headers():get("content-type") or ""
  if not ct:find("json", 1, true) then return end
  local body = handle:body()
  if body == nil then return end
  local s = body:getBytes(0, body:length())
  local out = s:gsub("%d[%d %-]*%d", mask)
  if out ~= s then body:setBytes(out) end
end
