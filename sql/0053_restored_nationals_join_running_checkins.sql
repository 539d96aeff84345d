-- A national restored while a check-in of their mission runs is asked too.
--
-- A restore reopened only the check-ins the person had before the deletion.
-- Someone deleted before a campaign was launched (or while it was: the
-- restore waits for the launch, which then leaves them out as deleted) had
-- none in that crisis, so came back inside its area yet was never asked,
-- counted or put on the call list. Now a restore also gives them a check-in
-- in every active crisis of their mission with a running campaign whose
-- area holds them today, and its first message, as the launch would have:
-- same route rules, same message.

-- Asks p_national in the running campaigns of their mission whose crisis
-- area holds them and which have not asked them yet; returns how many.
-- The caller holds the mission's membership lock ('crisis-members:'), so a
-- launch under way has committed and is seen, or starts after and sees
-- them.
CREATE FUNCTION national_join_crises(p_national bigint) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	camp record;
	r record;
	joined integer := 0;
	-- Stands for the name while the message is rendered (as in a launch):
	-- no title or template can contain it.
	name_mark constant text := '{name ' || gen_random_uuid() || '}';
BEGIN
	FOR camp IN SELECT DISTINCT ON (cp.crisis_id) cp.*, c.title, c.drill, c.area, c.center, c.radius_m
			FROM national n
			JOIN campaign cp ON cp.mission_id = n.mission_id AND cp.state = 'running'
			JOIN crisis c ON c.id = cp.crisis_id AND c.state = 'active'
			WHERE n.id = p_national AND n.deleted_at IS NULL
				AND NOT EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = c.id
					AND k.national_id = n.id)
			ORDER BY cp.crisis_id, cp.id DESC LOOP
		-- The launch's choice of route for this one person: a working route
		-- before a degraded one, the first channel before the next, a
		-- confirmed contact before an unconfirmed one; no contact, unreachable.
		SELECT t.national_id, t.region_id, ch.i AS channel_index, ch.channel, ct.value AS recipient,
				CASE WHEN 'ko' = ANY (t.languages) OR t.name_ko IS NOT NULL THEN 'ko' ELSE 'en' END AS lang,
				t.name_ko, t.name_latin
			INTO r
			FROM (SELECT * FROM nationals_in_area(camp.mission_id, camp.area, current_date)
					WHERE camp.area IS NOT NULL
				UNION ALL
				SELECT * FROM nationals_near(camp.mission_id, camp.center, camp.radius_m, current_date)
					WHERE camp.area IS NULL) t
			LEFT JOIN (unnest(camp.channels) WITH ORDINALITY AS ch(channel, i)
				JOIN contact ct ON ct.kind = channel_contact_kind(ch.channel)) ON ct.national_id = t.national_id
			LEFT JOIN route_health h ON h.degraded AND h.channel = ch.channel
				AND h.prefix = route_prefix(ch.channel, ct.value)
			WHERE t.national_id = p_national
			ORDER BY ct.id IS NULL, h.prefix IS NOT NULL, ch.i, ct.verified DESC, ct.priority, ct.id
			LIMIT 1;
		IF NOT FOUND THEN
			CONTINUE;
		END IF;
		INSERT INTO checkin (crisis_id, national_id, mission_id, region_id, campaign_id, channel_index,
				next_ask_at, state)
			VALUES (camp.crisis_id, p_national, camp.mission_id, coalesce(r.region_id, 0), camp.id,
				coalesce(r.channel_index, 1), now() + make_interval(secs => camp.reask_interval_s),
				CASE WHEN r.channel IS NULL THEN 'unreachable' ELSE 'asked' END::checkin_state);
		IF r.channel IS NOT NULL THEN
			INSERT INTO outbox (crisis_id, campaign_id, national_id, mission_id, channel, recipient,
					language, body)
				VALUES (camp.crisis_id, camp.id, p_national, camp.mission_id, r.channel, r.recipient,
					r.lang, replace(campaign_render(camp.templates, r.lang, name_mark, camp.title, camp.drill),
						name_mark, CASE WHEN r.lang = 'ko' THEN coalesce(r.name_ko, r.name_latin, '')
							ELSE coalesce(r.name_latin, r.name_ko, '') END));
		END IF;
		UPDATE campaign SET targeted = targeted + 1 WHERE id = camp.id;
		joined := joined + 1;
	END LOOP;
	IF joined > 0 THEN
		-- Dispatchers on every safetyd wake up at commit rather than at their next poll.
		PERFORM pg_notify('outbox', p_national::text);
	END IF;
	RETURN joined;
END
$$;

-- The newest definition (0039), then the crises they were never asked in.
CREATE OR REPLACE FUNCTION national_return_to_crises(p_national bigint) RETURNS void LANGUAGE sql AS $$
	SELECT pg_advisory_xact_lock(hashtextextended('crisis-members:' || n.mission_id, 0))
		FROM national n WHERE n.id = p_national;
	-- A closed crisis asks nobody again (as crisis_close leaves its check-ins).
	UPDATE checkin k SET state = CASE
			WHEN c.state <> 'active' AND k.state_before_delete = 'asked' THEN 'cancelled'
			WHEN EXISTS (SELECT 1 FROM response r WHERE r.crisis_id = k.crisis_id
				AND r.national_id = k.national_id AND r.received_at >= k.asked_at) THEN 'answered'
			ELSE k.state_before_delete END,
		answered_at = coalesce(k.answered_at, (SELECT max(r.received_at) FROM response r
			WHERE r.crisis_id = k.crisis_id AND r.national_id = k.national_id
				AND r.received_at >= k.asked_at)),
		state_before_delete = NULL
		FROM crisis c
		WHERE k.crisis_id = c.id AND k.national_id = p_national AND k.state = 'cancelled'
			AND k.state_before_delete IS NOT NULL;
	UPDATE person_status p SET deleted = false FROM crisis c
		WHERE p.crisis_id = c.id AND p.national_id = p_national AND p.deleted;
	SELECT national_join_crises(p_national);
$$;
