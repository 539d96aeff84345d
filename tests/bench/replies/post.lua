-- wrk script: POST one answer to the reply page of a token chosen at random
-- among those in tokens.txt, so the load spreads over every person.
local tokens = {}
for line in io.lines(os.getenv("TOKENS") or "tokens.txt") do
	tokens[#tokens + 1] = line
end
local statuses = {"safe", "safe", "safe", "needs_help", "injured", "needs_evacuation"}
local counter = 0
local threads = 0

-- Every wrk thread starts Lua's generator from the same seed: without its
-- own seed, both threads would send the same answers in the same order.
function setup(thread)
	threads = threads + 1
	thread:set("tid", threads)
end

function init()
	math.randomseed(tid * 7919)
end
-- DELAY_MS paces each connection (connections x 1000 / (DELAY_MS + latency) per second).
local pace = tonumber(os.getenv("DELAY_MS") or "")
if pace then
	delay = function()
		return pace
	end
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
request = function()
	counter = counter + 1
	local t = tokens[math.random(#tokens)]
	local body = "status=" .. statuses[(counter % #statuses) + 1] .. "&people=" .. ((counter % 4) + 1) ..
		"&message=bench+" .. counter
	return wrk.format(nil, "/r/" .. t, nil, body)
end
