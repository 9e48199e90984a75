-- wrk script for bench/validity.sh: GET <prefix>/<id>/status?at=2026-06-01 with a bearer
-- token, ids drawn at random from the generated 100 000 instruments.
--   wrk ... -s bench/status.lua URL -- PREFIX TOKEN
-- The requests are formatted once, in init, and then replayed: wrk shares the two cores with
-- the server, so Lua building a string for every request would be charged to the route being
-- measured. The same script, with the same requests, drives the bare baseline route.
local requests = {}
local count = 100000
local next_index = 0

init = function(args)
  local prefix, token = args[1], args[2]
  math.randomseed(42)
  for i = 1, count do
    local id = math.random(1, 100000)
    requests[i] = wrk.format("GET", prefix .. "/" .. id .. "/status?at=2026-06-01",
      { ["Authorization"] = "Bearer " .. token })
  end
end

request = function()
  next_index = next_index % count + 1
  return requests[next_index]
end
