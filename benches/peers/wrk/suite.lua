-- wrk script of `cargo xtask bench` (the full suite):
--
--   wrk -t1 -c64 -d8s --latency -s benches/peers/wrk/suite.lua URL -- DEPTH
--
-- DEPTH 1 (the default) leaves wrk's static request path alone; DEPTH > 1
-- pipelines: each write carries DEPTH copies of the request (headers given
-- with -H included), and wrk counts each response. At the end it prints
-- p50, p99 and p99.9 in whole microseconds, ranked over the samples wrk
-- recorded:
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

-- wrk's own percentile() ranks against the count of responses, but under
-- pipelining it records one latency per batch, so high percentiles come
-- back as 0. Rank against the recorded samples instead: #latency is the
-- number of distinct values, latency(i) the i-th value and its count.
done = function(summary, latency, requests)
   local values, total = {}, 0
   for i = 1, #latency do
      local v, n = latency(i)
      values[#values + 1] = { v, n }
      total = total + n
   end
   for _, p in ipairs({ 50, 99, 99.9 }) do
      local rank = math.max(1, math.ceil(total * p / 100))
      local seen, at = 0, 0
      for _, vn in ipairs(values) do
         seen = seen + vn[2]
         at = vn[1]
         if seen >= rank then
            break
         end
      end
      io.write(string.format("suite-latency p%g %d\n", p, at))
   end
end
