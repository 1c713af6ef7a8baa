-- Answers 405 to a method that the URL does not take, so that only
-- deliveries (POST) reach the webhook and only GET and HEAD the metrics
-- and the status page
-- (lighttpd's mod_magnet, 1.4.60 or later); other paths are the
-- program's to answer (404).  With a body of its own, lighttpd keeps the
-- Allow header.
local r = lighty.r
local path = r.req_attr["uri.path"]
local method = r.req_attr["request.method"]
local ok, allow
if path == "/hooks/swift-webhook" then
	ok, allow = method == "POST", "POST"
elseif path == "/hooks/swift-webhook/metrics" or
    path == "/hooks/swift-webhook/" or
    path == "/hooks/swift-webhook/compare" or
    path == "/hooks/swift-webhook/trend" or
    string.sub(path, 1, 25) == "/hooks/swift-webhook/jobs" then
	ok, allow = method == "GET" or method == "HEAD", "GET, HEAD"
else
	return 0
end
if not ok then
	r.resp_header["Allow"] = allow
	r.resp_header["Content-Type"] = "application/json"
	r.resp_body.set({ '{"status":"error","reason":"only ' ..
	    (allow == "POST" and "POST is" or "GET and HEAD are") ..
	    ' allowed"}\n' })
	return 405
end
