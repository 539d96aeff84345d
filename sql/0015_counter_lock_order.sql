-- Counters updated in key order. Reply batches now overlap (one is stored
-- while the previous one's statuses are written), and two statements that
-- upsert the same counter rows in different orders deadlock. Hash
-- aggregation gives no order, so each counter upsert sorts its rows.

CREATE OR REPLACE FUNCTION person_status_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO status_count AS s (crisis_id, mission_id, region_id, status, n)
		SELECT crisis_id, mission_id, coalesce(region_id, 0), status, count(*)
		FROM new_rows GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
		ON CONFLICT (crisis_id, mission_id, region_id, status)
		DO UPDATE SET n = s.n + excluded.n, updated_at = now();
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION person_status_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO status_count AS s (crisis_id, mission_id, region_id, status, n)
		SELECT crisis_id, mission_id, region_id, status, sum(n) FROM (
			SELECT crisis_id, mission_id, coalesce(region_id, 0) AS region_id, status, -1 AS n
			FROM old_rows
			UNION ALL
			SELECT crisis_id, mission_id, coalesce(region_id, 0), status, 1 FROM new_rows) d
		GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0 ORDER BY 1, 2, 3, 4
		ON CONFLICT (crisis_id, mission_id, region_id, status)
		DO UPDATE SET n = s.n + excluded.n, updated_at = now();
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION person_status_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	-- The counters are locked in key order first; the update then finds them held.
	PERFORM 1 FROM status_count x
		WHERE (x.crisis_id, x.mission_id, x.region_id, x.status) IN
			(SELECT crisis_id, mission_id, coalesce(region_id, 0), status FROM old_rows)
		ORDER BY x.crisis_id, x.mission_id, x.region_id, x.status FOR UPDATE;
	UPDATE status_count s SET n = s.n - d.c
		FROM (SELECT crisis_id, mission_id, coalesce(region_id, 0) AS region_id, status,
				count(*) AS c FROM old_rows GROUP BY 1, 2, 3, 4) d
		WHERE s.crisis_id = d.crisis_id AND s.mission_id = d.mission_id
			AND s.region_id = d.region_id AND s.status = d.status;
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION response_count_minute() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO response_minute AS m (crisis_id, mission_id, minute, n)
		SELECT r.crisis_id, r.mission_id, date_trunc('minute', r.received_at), count(*)
		FROM new_responses r WHERE r.crisis_id IS NOT NULL AND r.mission_id IS NOT NULL
		GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
		ON CONFLICT (crisis_id, mission_id, minute) DO UPDATE SET n = m.n + excluded.n;
	RETURN NULL;
END
$$;
