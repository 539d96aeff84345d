-- wrk script: creates messages at the Twilio stand-in (no StatusCallback),
-- to measure the stand-in alone. AUTH is "Basic base64(sid:token)".
wrk.method = "POST"
wrk.headers["Authorization"] = os.getenv("AUTH")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local path = "/2010-04-01/Accounts/" .. os.getenv("SID") .. "/Messages.json"
local n = 0

request = function()
	n = n + 1
	return wrk.format(nil, path, nil, "To=%2B8210" .. string.format("%08d", n % 100000000) ..
		"&From=%2B15005550006&Body=bench+message+" .. n)
end
