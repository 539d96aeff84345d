-- A change to a registration takes the registration's code lock before it
-- touches the registration or its contacts, in the order every code send
-- takes its locks, so a change and a "send a new code" at the same moment
-- wait for each other instead of deadlocking.

-- Changes a registration through its management link (or a pending one,
-- which becomes the link). The change and its codes go together: when the
-- codes it needs are over a budget, nothing is changed and the answer is
-- {"outcome": "limit", "retry_after": seconds}.
CREATE OR REPLACE FUNCTION registration_update(p_manage_hash text, p_doc jsonb, p_addr text,
		p_addr_key text, p_code_limits jsonb) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	reg registration;
	rid bigint := registration_link_open(p_manage_hash);
	ct record;
	sent json;
	retry integer;
BEGIN
	-- The lock a code send takes first, taken first here too: a change that
	-- removes a contact while a new code for it is being sent would
	-- otherwise wait on the send while the send waits on the contact.
	PERFORM pg_advisory_xact_lock(hashtextextended('codes:registration:' || rid, 0));
	SELECT * INTO reg FROM registration WHERE id = rid FOR UPDATE;
	IF NOT FOUND THEN
		RETURN json_build_object('outcome', 'unknown');
	END IF;
	-- Joined with the registry's own record: that record is the embassy's to change.
	IF EXISTS (SELECT 1 FROM registration_merge WHERE registration_id = reg.id) THEN
		RETURN json_build_object('outcome', 'merged');
	END IF;
	BEGIN
		PERFORM registration_write(reg.id, p_doc);
		PERFORM registration_family(reg.id, p_doc->'family');
		UPDATE registration SET language = coalesce(p_doc->>'language', language) WHERE id = reg.id;
		FOR ct IN SELECT c.id FROM contact c
				WHERE c.national_id = reg.national_id AND NOT c.verified
					AND NOT EXISTS (SELECT 1 FROM contact_code k WHERE k.contact_id = c.id)
				ORDER BY c.id LOOP
			sent := contact_code_send(ct.id, p_addr_key, p_code_limits);
			IF sent->>'outcome' = 'limit' THEN
				retry := (sent->>'retry_after')::integer;
				RAISE EXCEPTION 'codes over budget' USING ERRCODE = 'SF002';
			END IF;
		END LOOP;
	EXCEPTION WHEN SQLSTATE 'SF002' THEN
		-- Everything in the block is undone: the registration stays as it was.
		RETURN json_build_object('outcome', 'limit', 'retry_after', retry);
	END;
	PERFORM audit_record('self', 'national', reg.mission_id, p_addr, 'registration.update',
		'national', reg.national_id::text, json_build_object('registration_id', reg.id,
		'people', jsonb_array_length(p_doc->'people'),
		'legs', jsonb_array_length(coalesce(p_doc->'legs', '[]')))::text);
	RETURN json_build_object('outcome', 'updated', 'registration_id', reg.id);
END
$$;
