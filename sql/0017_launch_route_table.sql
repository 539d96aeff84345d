-- A launch chooses each person's route once, into a temporary table, and
-- both inserts read it.
--
-- The route query is planned with the crisis's own area as a value, so the
-- planner sees how many people it holds: a join through the crisis row hid
-- it (21 people guessed where there were 200,000), and the registry, the
-- contacts and the route health were then read one person at a time, a
-- third of a launch. Marked parallel safe, the area functions let both
-- cores test points against the area. The route health is a join, not a
-- lookup per contact, and the choice sorts in memory. A crisis nobody was
-- asked in yet (its first campaign) skips the search for people already
-- asked.

ALTER FUNCTION itinerary_margin_days() PARALLEL SAFE;
ALTER FUNCTION nationals_in_area(bigint, geography, date) PARALLEL SAFE;
ALTER FUNCTION nationals_near(bigint, geography, double precision, date) PARALLEL SAFE;
ALTER FUNCTION channel_contact_kind(text) PARALLEL SAFE;
ALTER FUNCTION route_prefix(text, text) PARALLEL SAFE;

CREATE OR REPLACE FUNCTION campaign_launch(p_campaign bigint) RETURNS TABLE (checkins bigint, messages bigint)
	LANGUAGE plpgsql SET work_mem = '256MB' SET jit = off AS $$
DECLARE
	camp record;
	asked bigint := 0;
	queued bigint := 0;
BEGIN
	SELECT cp.*, c.title, c.drill, c.area, c.center, c.radius_m INTO camp
		FROM campaign cp JOIN crisis c ON c.id = cp.crisis_id WHERE cp.id = p_campaign;
	IF FOUND THEN
		-- Campaigns reach a working route before a degraded one, their first
		-- channel before the next, and a confirmed contact before an
		-- unconfirmed one. Someone without any contact gets no route and is
		-- unreachable at once.
		EXECUTE format($q$CREATE TEMP TABLE launch_route ON COMMIT DROP AS
			SELECT DISTINCT ON (t.national_id) t.national_id, ch.i AS channel_index, ch.channel,
				ct.value AS recipient,
				CASE WHEN 'ko' = ANY (n.languages) OR n.name_ko IS NOT NULL THEN 'ko' ELSE 'en' END AS lang,
				n.name_ko, n.name_latin
			FROM %s t
			JOIN national n ON n.id = t.national_id
			LEFT JOIN (unnest($1) WITH ORDINALITY AS ch(channel, i)
				JOIN contact ct ON ct.kind = channel_contact_kind(ch.channel)) ON ct.national_id = n.id
			LEFT JOIN route_health h ON h.channel = ch.channel
				AND h.prefix = route_prefix(ch.channel, ct.value)
			%s
			ORDER BY t.national_id, ct.id IS NULL, coalesce(h.degraded, false), ch.i, ct.verified DESC,
				ct.priority, ct.id$q$,
			CASE WHEN camp.area IS NOT NULL THEN 'nationals_in_area($2, $3, current_date)'
				ELSE 'nationals_near($2, $4, $5, current_date)' END,
			CASE WHEN EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = camp.crisis_id)
				THEN 'WHERE NOT EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = $6'
					' AND k.national_id = t.national_id)'
				ELSE '' END)
			USING camp.channels, camp.mission_id, camp.area, camp.center, camp.radius_m, camp.crisis_id;

		INSERT INTO checkin (crisis_id, national_id, mission_id, campaign_id, channel_index, next_ask_at, state)
			SELECT camp.crisis_id, r.national_id, camp.mission_id, camp.id, coalesce(r.channel_index, 1),
				now() + make_interval(secs => camp.reask_interval_s),
				CASE WHEN r.channel IS NULL THEN 'unreachable' ELSE 'asked' END::checkin_state
			FROM launch_route r;
		GET DIAGNOSTICS asked = ROW_COUNT;

		INSERT INTO outbox (crisis_id, campaign_id, national_id, mission_id, channel, recipient, language, body)
			SELECT camp.crisis_id, camp.id, r.national_id, camp.mission_id, r.channel, r.recipient, r.lang,
				campaign_render(camp.templates, r.lang,
					CASE WHEN r.lang = 'ko' THEN coalesce(r.name_ko, r.name_latin)
						ELSE coalesce(r.name_latin, r.name_ko) END,
					camp.title, camp.drill)
			FROM launch_route r WHERE r.channel IS NOT NULL;
		GET DIAGNOSTICS queued = ROW_COUNT;

		UPDATE campaign SET targeted = asked WHERE id = p_campaign;
		DROP TABLE launch_route;
	END IF;
	RETURN QUERY SELECT asked, queued;
END
$$;

-- The pending status of everyone a launch asks. A conflict check per row (ON
-- CONFLICT) cost a launch of a million people 1.5 s, and is only needed where
-- the crisis already has statuses (a staff answer before the launch, a second
-- campaign); otherwise the rows go in plainly, and an answer that created one
-- of them meanwhile sends the statement back through the checked path.
CREATE OR REPLACE FUNCTION checkin_pending() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	pending constant text := 'INSERT INTO person_status (crisis_id, national_id, mission_id, region_id, status, at)'
		' SELECT k.crisis_id, k.national_id, k.mission_id, n.region_id,'
		' CASE WHEN k.state = ''unreachable'' THEN ''unreachable'' ELSE ''pending'' END, k.asked_at'
		' FROM new_checkins k JOIN national n ON n.id = k.national_id';
	checked constant text := ' ON CONFLICT (crisis_id, national_id) DO NOTHING';
BEGIN
	IF EXISTS (SELECT 1 FROM person_status p WHERE p.crisis_id IN (SELECT crisis_id FROM new_checkins)) THEN
		EXECUTE pending || checked;
	ELSE
		BEGIN
			EXECUTE pending;
		EXCEPTION WHEN unique_violation THEN
			EXECUTE pending || checked;
		END;
	END IF;
	RETURN NULL;
END
$$;

-- Live events never send a pending status (events.c reads status <>
-- 'pending'), so the million pending rows of a launch stay out of the index
-- the events read.
DROP INDEX person_status_txid;
CREATE INDEX person_status_txid ON person_status (crisis_id, txid) WHERE status <> 'pending';

-- No query reads check-ins by campaign (progress is counted by crisis and
-- state), and keeping this index cost a launch of a million about a second.
DROP INDEX checkin_campaign;
