-- wrk script for bench/pending.sh: every request is a send
-- (`POST /.otpgate/api/send`) to its own phone number, and each thread
-- stops after its share. `wrk -s bench/sends.lua URL -- PER_THREAD THREADS FIRST`
-- Numbers: +9198 and 8 digits, thread t sends FIRST+t, FIRST+t+THREADS, ...
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  per = tonumber(args[1])
  stride = tonumber(args[2])
  first = tonumber(args[3] or "0")
  i = 0
  ok = 0
  bad = 0
  origin = "https://" .. wrk.host .. ":" .. wrk.port
end

function request()
  local n = first + tid + i * stride
  i = i + 1
  return wrk.format("POST", "/.otpgate/api/send",
    { ["Content-Type"] = "application/json", ["Origin"] = origin },
    string.format('{"phone":"+9198%08d"}', n))
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else bad = bad + 1 end
  if ok + bad >= per then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local o, b = 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    b = b + t:get("bad")
  end
  io.write(string.format("sends ok=%d bad=%d\n", o, b))
end
