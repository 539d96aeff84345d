-- wrk script: incoming SMS answers as Kannel delivers them (GET with the
-- sender, the text and Kannel's message id), from PEOPLE distinct numbers.
-- Each thread numbers its messages apart so no id repeats.
local people = tonumber(os.getenv("PEOPLE") or "100000")
local secret = os.getenv("HOOK_SECRET")
local texts = {"1", "safe", "we+are+3+all+safe", "2+need+water", "%EC%95%88%EC%A0%84", "injured+leg"}
local threads = 0

function setup(thread)
	threads = threads + 1
	thread:set("tid", threads)
end

local counter = 0

-- Every wrk thread starts Lua's generator from the same seed; give each its own.
function init()
	math.randomseed(tid * 7919)
end

request = function()
	counter = counter + 1
	local n = math.random(people)
	local path = "/hooks/sms/kannel?secret=" .. secret .. "&from=%2B90532" .. string.format("%07d", n) ..
		"&to=1234&text=" .. texts[(counter % #texts) + 1] .. "&id=bench-" .. tid .. "-" .. counter
	return wrk.format("GET", path)
end
