-- wrk script: Kannel delivery reports for messages chosen at random among
-- ROWS, half "accepted by the SMSC" (8), half "delivered" (1).
local secret = os.getenv("HOOK_SECRET")
local rows = tonumber(os.getenv("ROWS") or "100000")
local threads = 0

function setup(thread)
	threads = threads + 1
	thread:set("tid", threads)
end

function init()
	math.randomseed(tid * 7919)
end

request = function()
	local status = (math.random(1, 2) == 1) and "8" or "1"
	return wrk.format("GET", "/hooks/sms/kannel/dlr?secret=" .. secret .. "&id=" ..
		math.random(1, rows) .. "&status=" .. status .. "&answer=DELIVRD")
end
