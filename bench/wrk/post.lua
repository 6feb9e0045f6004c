-- POST with a fixed form body, checking every answer.
--   wrk ... -s bench/wrk/post.lua URL -- PATH BODY EXPECT [AUTHORIZATION]
-- An answer counts as good only if it is HTTP 200 and its body contains EXPECT
-- (e.g. "access_token", or "active":true for introspection); anything else is
-- counted as bad and the first one is reported. wrk's own socket errors are
-- reported too. A run with any bad answer or error is invalid.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")

function init(args)
   wrk.method = "POST"
   wrk.path = args[1]
   wrk.body = args[2]
   expect = args[3]
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
   if args[4] and args[4] ~= "" then
      wrk.headers["Authorization"] = args[4]
   end
   ok = 0
   bad = 0
end

function response(status, headers, body)
   if status == 200 and string.find(body, expect, 1, true) then
      ok = ok + 1
   else
      note_bad(status, body)
   end
end

function done(summary, latency, requests)
   report(summary, latency, { "ok", "bad" })
end
