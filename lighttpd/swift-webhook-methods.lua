-- Answers 405 to anything but POST at the webhook's URL, so that only
-- deliveries reach swift-webhook (lighttpd's mod_magnet, 1.4.60 or later).
-- With a body of its own, lighttpd keeps the Allow header.
local r = lighty.r
if r.req_attr["request.method"] ~= "POST" then
	r.resp_header["Allow"] = "POST"
	r.resp_header["Content-Type"] = "application/json"
	r.resp_body.set({ '{"status":"error","reason":"only POST is allowed"}\n' })
	return 405
end
