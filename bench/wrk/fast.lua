-- POST with a fixed form body, checking the status of every answer in C, not in Lua.
--   wrk ... -s bench/wrk/fast.lua URL -- PATH BODY EXPECT [AUTHORIZATION]
-- No response() callback: wrk then neither copies each answer's headers and body into
-- Lua nor runs a Lua function per answer, which on a machine where wrk shares the
-- server's cores costs the server a large share of its CPU (the fastest servers
-- lose the most, so the ratios to the ceiling flattered the slower ones). wrk
-- still counts every non-2xx/3xx answer (errors.status), and a run with any is
-- invalid; the body (EXPECT) is checked by bench/harness.mjs with real requests
-- right before and after the run (post.lua checks every answer's body: BENCH_CHECK=body).
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")

function init(args)
   wrk.method = "POST"
   wrk.path = args[1]
   wrk.body = args[2]
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
   if args[4] and args[4] ~= "" then
      wrk.headers["Authorization"] = args[4]
   end
end

function done(summary, latency, requests)
   -- Answers are good unless wrk counted them as non-2xx/3xx.
   for _, t in ipairs(threads) do
      t:set("ok", 0)
      t:set("bad", 0)
   end
   local ok = summary.requests - summary.errors.status
   threads[1]:set("ok", ok)
   threads[1]:set("bad", summary.errors.status)
   report(summary, latency, { "ok", "bad" })
end
