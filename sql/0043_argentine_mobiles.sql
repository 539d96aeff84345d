-- Argentine mobiles written nationally (0, area code, 15, subscriber) were
-- stored digit for digit, +54 11 15 2345 6789 instead of +54 9 11 2345 6789:
-- from abroad that is another line, or none. The phone module now writes the
-- international form; this rewrites what was stored before: people's phone
-- contacts, the home contacts of registrations and SMS still queued. A
-- number is rewritten only when exactly one Argentine area code (the phone
-- module's table) is followed by 15 with 10 digits left for area code and
-- subscriber, as the module reads it; others are left as they are.

CREATE FUNCTION pg_temp.ar_mobile(v text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	areas CONSTANT text[] := '{
		11,220,221,223,230,236,237,249,260,261,263,264,266,280,291,294,297,298,299,336,341,342,
		343,345,348,351,353,358,362,364,370,376,379,380,381,383,385,387,388,2202,2221,2223,2224,
		2225,2226,2227,2229,2241,2242,2243,2244,2245,2246,2252,2254,2255,2257,2261,2262,2264,2265,
		2266,2267,2268,2271,2272,2273,2274,2281,2283,2284,2285,2286,2291,2292,2296,2297,2302,2314,
		2316,2317,2320,2323,2324,2325,2326,2331,2333,2334,2335,2336,2337,2338,2342,2343,2344,2345,
		2346,2352,2353,2354,2355,2356,2357,2358,2392,2393,2394,2395,2396,2473,2474,2475,2477,2478,
		2622,2624,2625,2626,2646,2647,2648,2651,2655,2656,2657,2658,2901,2902,2903,2920,2921,2922,
		2923,2924,2925,2926,2927,2928,2929,2931,2932,2933,2934,2935,2936,2940,2942,2945,2946,2948,
		2952,2953,2954,2962,2963,2964,2966,2972,2982,2983,3327,3329,3382,3385,3387,3388,3400,3401,
		3402,3404,3405,3406,3407,3408,3409,3435,3436,3437,3438,3442,3444,3445,3446,3447,3454,3455,
		3456,3458,3460,3462,3463,3464,3465,3466,3467,3468,3469,3471,3472,3476,3482,3483,3487,3489,
		3491,3492,3493,3496,3497,3498,3521,3522,3524,3525,3532,3533,3537,3541,3542,3543,3544,3546,
		3547,3548,3549,3562,3563,3564,3571,3572,3573,3574,3575,3576,3582,3583,3584,3585,3711,3715,
		3716,3718,3721,3725,3731,3734,3735,3741,3743,3751,3754,3755,3756,3757,3758,3772,3773,3774,
		3775,3777,3781,3782,3786,3821,3825,3826,3827,3832,3835,3837,3838,3841,3843,3844,3845,3846,
		3854,3855,3856,3857,3858,3861,3862,3863,3865,3867,3868,3869,3873,3876,3877,3878,3885,3886,
		3887,3888,3891,3892,3894
	}';
	d text;
	hits integer := 0;
	len integer;
BEGIN
	IF v IS NULL OR v !~ '^\+549?[0-9]{12}$' THEN
		RETURN NULL;
	END IF;
	d := substr(v, 4);
	IF length(d) = 13 THEN
		d := substr(d, 2); -- +54 9 11 15 …: the 9 written as well
	END IF;
	FOR l IN 2..4 LOOP
		IF substr(d, l + 1, 2) = '15' AND left(d, l) = ANY (areas) THEN
			hits := hits + 1;
			len := l;
		END IF;
	END LOOP;
	IF hits <> 1 THEN
		RETURN NULL;
	END IF;
	RETURN '+549' || left(d, len) || substr(d, len + 3);
END
$$;

-- A person who also has the number rightly written, or twice wrongly, keeps one.
WITH f AS (SELECT id, national_id, priority, pg_temp.ar_mobile(value) AS fixed FROM contact
	WHERE kind = 'phone' AND value ~ '^\+549?[0-9]{12}$'),
g AS (SELECT * FROM f WHERE fixed IS NOT NULL),
gone AS (DELETE FROM contact c USING g WHERE c.id = g.id AND (EXISTS (SELECT 1 FROM contact o
	WHERE o.national_id = g.national_id AND o.kind = 'phone' AND o.value = g.fixed)
	OR EXISTS (SELECT 1 FROM g g2 WHERE g2.national_id = g.national_id AND g2.fixed = g.fixed
	AND (g2.priority, g2.id) < (g.priority, g.id))) RETURNING g.national_id, g.fixed, g.priority)
UPDATE contact c SET priority = least(c.priority, gone.priority) FROM gone
	WHERE c.national_id = gone.national_id AND c.kind = 'phone' AND c.value = gone.fixed;

-- The new number was never confirmed by its holder.
UPDATE contact SET value = pg_temp.ar_mobile(value), verified = false
	WHERE kind = 'phone' AND pg_temp.ar_mobile(value) IS NOT NULL;

UPDATE registration SET family_phone = pg_temp.ar_mobile(family_phone)
	WHERE pg_temp.ar_mobile(family_phone) IS NOT NULL;

UPDATE outbox SET recipient = pg_temp.ar_mobile(recipient)
	WHERE channel = 'sms' AND state = 'queued' AND pg_temp.ar_mobile(recipient) IS NOT NULL;

DROP FUNCTION pg_temp.ar_mobile(text);
