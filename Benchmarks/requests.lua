-- wrk script: replays pre-signed webhook requests, each thread its own share, so every request
-- carries a fresh MsgId. Prints one parsable line at the end.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file = args[1]
  local count = tonumber(args[2])
  -- Optional: use only lines [first, last), so a warm-up and the measured run never share a MsgId.
  local first = tonumber(args[3] or "0")
  local last = tonumber(args[4] or "-1")
  requests = {}
  local index = 0
  for line in io.lines(file) do
    if last >= 0 and index >= last then break end
    if index >= first and index % count == id then
      local tab = string.find(line, "\t", 1, true)
      local query = string.sub(line, 1, tab - 1)
      local body = string.sub(line, tab + 1)
      table.insert(requests, wrk.format("POST", "/wechat?" .. query, {["Content-Type"] = "text/xml"}, body))
    end
    index = index + 1
  end
  position = 0
  wrapped = 0
end

function request()
  position = position + 1
  if position > #requests then
    position = 1
    wrapped = wrapped + 1
  end
  return requests[position]
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1000000
  local reused = 0
  for _, thread in ipairs(threads) do
    reused = reused + (thread:get("wrapped") or 0)
  end
  io.write(string.format(
    "RESULT rps=%.0f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f requests=%d errors=%d non2xx=%d reused=%d\n",
    summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000,
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, reused))
end
