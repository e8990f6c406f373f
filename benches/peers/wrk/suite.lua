-- wrk script of `cargo xtask bench` (the full suite):
--
--   wrk -t1 -c64 -d8s --latency -s benches/peers/wrk/suite.lua URL -- DEPTH
--
-- DEPTH 1 (the default) leaves wrk's static request path alone; DEPTH > 1
-- pipelines: each write carries DEPTH copies of the request (headers given
-- with -H included), and wrk counts each response. At the end it prints
-- the percentiles wrk's --latency table lacks, in whole microseconds:
--
--   suite-latency p50 123
--   suite-latency p99 456
--   suite-latency p99.9 789

init = function(args)
   local depth = tonumber(args[1]) or 1
   if depth > 1 then
      local batch = string.rep(wrk.format(), depth)
      request = function()
         return batch
      end
   end
end

done = function(summary, latency, requests)
   for _, p in ipairs({ 50, 99, 99.9 }) do
      io.write(string.format("suite-latency p%g %d\n", p, latency:percentile(p)))
   end
end
