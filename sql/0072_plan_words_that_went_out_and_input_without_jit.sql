-- A cancellation stands until newer instructions went out to the person, and
-- the planner's input is read without JIT.
--
-- plan_message_stands (0070) let any newer instructions end a cancellation,
-- also instructions a later plan withdrew unsent: a cancellation caught
-- sending while a plan placed the person, and then a plan left them out
-- again, was failed at its retry (or not passed to the next contact) though
-- it was the last word they would get. Only instructions that went out, may
-- have gone out or are still to go count, as for publishing.
--
-- plan_input (0070) groups members by household in several steps the
-- planner estimates badly: its cost crossed the JIT threshold and
-- compiling took most of the query (1.7 s of 2.0 s for 6,000 people).

CREATE OR REPLACE FUNCTION plan_message_stands(o outbox) RETURNS boolean LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN o.plan_cancels IS NULL
		THEN EXISTS (SELECT 1 FROM plan WHERE id = o.plan_id AND state = 'published')
		ELSE NOT EXISTS (SELECT 1 FROM outbox x WHERE x.crisis_id = o.crisis_id
			AND x.national_id = o.national_id AND x.mission_id = o.mission_id AND x.kind = 'plan'
			AND x.id > o.id AND x.plan_id IS NOT NULL AND x.plan_id <> o.plan_id
			AND x.plan_cancels IS NULL
			AND (x.state IN ('queued', 'sending', 'sent', 'delivered') OR x.attempts > 0))
		END
$$;

ALTER FUNCTION plan_input(bigint, bigint, text[]) SET jit = off;
