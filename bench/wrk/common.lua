-- Shared by post.lua and login.lua: per-thread counters gathered in done(), and one
-- JSON line on stdout that bench/harness.mjs parses. Loaded with dofile() from the
-- script's own directory (wrk's working directory is the repository root).

threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function json_string(s)
   s = tostring(s or "")
   s = s:gsub('[%c"\\]', function(c)
      if c == '"' then return '\\"' end
      if c == '\\' then return '\\\\' end
      return string.format("\\u%04x", c:byte())
   end)
   return '"' .. s .. '"'
end

-- Called in the thread's state: remember what went wrong first.
function note_bad(status, body)
   bad = bad + 1
   if first_bad == nil then
      first_bad = "HTTP " .. tostring(status) .. ": " .. string.sub(body or "", 1, 800)
   end
end

function report(summary, latency, fields)
   local sums = {}
   local first = nil
   for _, t in ipairs(threads) do
      for _, f in ipairs(fields) do
         sums[f] = (sums[f] or 0) + (t:get(f) or 0)
      end
      first = first or t:get("first_bad")
   end
   local e = summary.errors
   local secs = summary.duration / 1e6
   local parts = {
      '"requests":' .. summary.requests,
      '"duration_s":' .. string.format("%.3f", secs),
      '"errors":{"connect":' .. e.connect .. ',"read":' .. e.read .. ',"write":' .. e.write ..
         ',"status":' .. e.status .. ',"timeout":' .. e.timeout .. '}',
      '"latency_us":{"p50":' .. latency:percentile(50) .. ',"p90":' .. latency:percentile(90) ..
         ',"p99":' .. latency:percentile(99) .. ',"max":' .. latency.max ..
         ',"mean":' .. string.format("%.1f", latency.mean) .. '}',
      '"first_bad":' .. (first and json_string(first) or "null"),
   }
   for _, f in ipairs(fields) do
      table.insert(parts, '"' .. f .. '":' .. sums[f])
   end
   io.write("BENCH_RESULT {" .. table.concat(parts, ",") .. "}\n")
end
