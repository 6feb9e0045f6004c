-- The authorization-code + PKCE login, chained on each keep-alive connection:
--   GET AUTHORIZE_PATH -> 302 to the redirect URI with ?code=…  (auto-approved)
--   POST /token grant_type=authorization_code&code=…&code_verifier=…  -> 200 with tokens
--   wrk ... -s bench/wrk/login.lua URL -- AUTHORIZE_PATH TOKEN_BODY_PREFIX
-- AUTHORIZE_PATH carries client_id, redirect_uri, scope, state and the S256
-- code_challenge; TOKEN_BODY_PREFIX carries grant_type, client_id, redirect_uri and the
-- matching code_verifier. Codes wait in a per-thread queue, each redeemed once.
-- `logins` counts token responses with an access_token; a 302 without a code, any
-- other status, or a token answer without access_token is bad.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")

function init(args)
   authorize_path = args[1]
   token_prefix = args[2]
   codes = {}
   logins = 0
   authorized = 0
   ok = 0
   bad = 0
   get_headers = {}
   post_headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
end

function request()
   local code = table.remove(codes)
   if code then
      return wrk.format("POST", "/token", post_headers, token_prefix .. "&code=" .. code)
   end
   return wrk.format("GET", authorize_path, get_headers)
end

function response(status, headers, body)
   if status == 302 then
      local loc = headers["location"] or headers["Location"] or ""
      local code = loc:match("[?&]code=([^&#]+)")
      if code then
         authorized = authorized + 1
         ok = ok + 1
         table.insert(codes, code)
      else
         note_bad(status, "Location: " .. loc)
      end
   elseif status == 200 and string.find(body, '"access_token"', 1, true) then
      logins = logins + 1
      ok = ok + 1
   else
      note_bad(status, body)
   end
end

function done(summary, latency, requests)
   report(summary, latency, { "ok", "bad", "logins", "authorized" })
end
