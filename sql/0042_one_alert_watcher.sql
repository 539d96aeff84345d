-- One safetyd at a time polls the alert feeds: several would fetch the
-- same feeds and propose the same events side by side. The watcher holds a
-- lease it renews at every poll; another process takes it over once the
-- holder has stopped renewing.
CREATE TABLE alert_watch_lease (
	only_one boolean PRIMARY KEY DEFAULT true CHECK (only_one),
	holder text NOT NULL,
	until timestamptz NOT NULL
);

-- Whether p_holder runs the watcher for the next p_seconds: it held the
-- lease already, or nobody holds it any more.
CREATE FUNCTION alert_watch_claim(p_holder text, p_seconds integer) RETURNS boolean
	LANGUAGE plpgsql AS $$
BEGIN
	-- Taken in turn, so two processes starting together do not both insert.
	PERFORM pg_advisory_xact_lock(hashtextextended('alert_watch', 0));
	INSERT INTO alert_watch_lease AS l (holder, until)
		VALUES (p_holder, now() + make_interval(secs => p_seconds))
		ON CONFLICT (only_one) DO UPDATE SET holder = excluded.holder, until = excluded.until
			WHERE l.holder = excluded.holder OR l.until < now();
	RETURN FOUND;
END
$$;
