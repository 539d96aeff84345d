-- wrk script: an HQ poller of /feed/v1/status.json with its API key, sending
-- back the ETag it last received, as a well-behaved poller does.
local etag = nil
local key = os.getenv("FEED_KEY")
-- POLL_DELAY_MS: each poller's mean pause between polls, spread from half to
-- one and a half times it as independent pollers are (none: as fast as it can).
local pace = tonumber(os.getenv("POLL_DELAY_MS") or "")
if pace then
	delay = function()
		return math.floor(pace * (0.5 + math.random()))
	end
end

local threads = 0
function setup(thread)
	threads = threads + 1
	thread:set("tid", threads)
end

function init()
	math.randomseed(tid * 104729)
end

request = function()
	local headers = {["Authorization"] = "Bearer " .. key}
	if etag then
		headers["If-None-Match"] = etag
	end
	return wrk.format("GET", "/feed/v1/status.json", headers)
end

response = function(status, headers)
	if status == 200 then
		etag = headers["ETag"] or headers["Etag"] or etag
	end
end
