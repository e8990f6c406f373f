-- HTTP/1.1 pipelining for wrk: each write carries DEPTH requests
-- (default 16), sent back to back; wrk counts each response.
--
--   wrk -t1 -c64 -d10s --latency -s benches/lua/pipeline.lua \
--       http://127.0.0.1:PORT/plaintext -- 16
--
-- wrk parses the string `request` returns to learn how many requests it
-- holds, and writes again only after that many responses arrived.

local batch

init = function(args)
   local depth = tonumber(args[1]) or 16
   if depth < 1 then
      depth = 1
   end
   local one = wrk.format("GET", wrk.path)
   batch = string.rep(one, depth)
end

request = function()
   return batch
end
