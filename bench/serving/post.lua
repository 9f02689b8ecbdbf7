-- wrk script: every request is a POST of the same JSON body, on keep-alive connections.
--   WRK_BODY_FILE  path of a file holding the body (required)
--   WRK_AUTH       optional value of the Authorization header (e.g. "Bearer <key>")
-- No response() callback: with one, wrk parses every answer in Lua, which slows the client down.
-- wrk itself counts answers that are not 2xx/3xx ("Non-2xx or 3xx responses").
local path = os.getenv("WRK_BODY_FILE")
assert(path and path ~= "", "set WRK_BODY_FILE to the request body's file")
local f = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("WRK_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end
