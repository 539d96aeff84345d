-- Staff can ask the unreachable of a campaign again (after a gateway was
-- fixed, or contacts were corrected): their check-ins are asked anew, with
-- every round of the campaign, from the address after the last one tried.
-- Addresses whose recipient a gateway refused stay skipped. Returns NULL
-- when the campaign is not of that crisis, the crisis is not active, or
-- (p_scope set) the campaign is another mission's.
CREATE FUNCTION campaign_reask_unreachable(p_crisis bigint, p_campaign bigint, p_scope bigint,
		p_actor text, p_role text, p_actor_mission bigint, p_addr text) RETURNS json
	LANGUAGE plpgsql AS $$
DECLARE
	camp record;
	n bigint;
BEGIN
	-- FOR SHARE: a close under way is waited for, and then nothing is reopened.
	SELECT cp.id, cp.mission_id INTO camp FROM campaign cp JOIN crisis c ON c.id = cp.crisis_id
		WHERE cp.id = p_campaign AND cp.crisis_id = p_crisis AND c.state = 'active'
			AND (p_scope IS NULL OR cp.mission_id = p_scope)
		FOR SHARE OF c;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	UPDATE checkin SET state = 'asked', round = 0, next_ask_at = now()
		WHERE crisis_id = p_crisis AND campaign_id = p_campaign AND state = 'unreachable';
	GET DIAGNOSTICS n = ROW_COUNT;
	-- Pending again, unless someone recorded a status for them meanwhile.
	UPDATE person_status p SET status = 'pending', version = p.version + 1, updated_at = now()
		FROM checkin k WHERE k.crisis_id = p_crisis AND k.campaign_id = p_campaign AND k.state = 'asked'
			AND k.round = 0 AND p.crisis_id = k.crisis_id AND p.national_id = k.national_id
			AND p.status = 'unreachable';
	UPDATE campaign SET state = 'running' WHERE id = p_campaign AND state = 'done' AND n > 0;
	PERFORM audit_record(p_actor, p_role, camp.mission_id, p_addr, 'campaign.reask_unreachable',
		'campaign', p_campaign::text, json_build_object('crisis_id', p_crisis, 'reasked', n)::text);
	-- Dispatchers and the re-ask run on every safetyd wake up now.
	PERFORM pg_notify('outbox', p_campaign::text);
	RETURN json_build_object('crisis_id', p_crisis, 'campaign_id', p_campaign, 'reasked', n);
END
$$;
