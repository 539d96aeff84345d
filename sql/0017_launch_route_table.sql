-- A launch chooses each person's route once, into a temporary table, and
-- both inserts read it. The planner cannot know how many people an area
-- holds (it guessed 21 where there were 200,000) and joined the registry,
-- the contacts and the route health one person at a time, which was a third
-- of a launch; the route health is now a join, not a lookup per contact, and
-- the choice sorts in memory.
CREATE OR REPLACE FUNCTION campaign_launch(p_campaign bigint) RETURNS TABLE (checkins bigint, messages bigint)
	LANGUAGE plpgsql SET work_mem = '256MB' AS $$
DECLARE
	camp record;
	asked bigint := 0;
	queued bigint := 0;
BEGIN
	SELECT cp.*, c.title, c.drill INTO camp FROM campaign cp JOIN crisis c ON c.id = cp.crisis_id
		WHERE cp.id = p_campaign;
	IF FOUND THEN
		DROP TABLE IF EXISTS launch_target, launch_route;
		CREATE TEMP TABLE launch_target ON COMMIT DROP AS
			SELECT DISTINCT t.national_id FROM crisis_targets(camp.crisis_id, camp.mission_id) t
			WHERE NOT EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = camp.crisis_id
				AND k.national_id = t.national_id);
		ANALYZE launch_target;
		-- Campaigns reach a working route before a degraded one, their first
		-- channel before the next, and a confirmed contact before an
		-- unconfirmed one. Someone without any contact gets no route and is
		-- unreachable at once.
		CREATE TEMP TABLE launch_route ON COMMIT DROP AS
			SELECT DISTINCT ON (t.national_id) t.national_id, ch.i AS channel_index, ch.channel,
				ct.value AS recipient,
				CASE WHEN 'ko' = ANY (n.languages) OR n.name_ko IS NOT NULL THEN 'ko' ELSE 'en' END AS lang,
				n.name_ko, n.name_latin
			FROM launch_target t
			JOIN national n ON n.id = t.national_id
			LEFT JOIN (unnest(camp.channels) WITH ORDINALITY AS ch(channel, i)
				JOIN contact ct ON ct.kind = channel_contact_kind(ch.channel)) ON ct.national_id = n.id
			LEFT JOIN route_health h ON h.channel = ch.channel
				AND h.prefix = route_prefix(ch.channel, ct.value)
			ORDER BY t.national_id, ct.id IS NULL, coalesce(h.degraded, false), ch.i, ct.verified DESC,
				ct.priority, ct.id;

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
		DROP TABLE launch_target, launch_route;
	END IF;
	RETURN QUERY SELECT asked, queued;
END
$$;
