-- What a stored response needs so that its person's status can be derived
-- again from it alone: whether it was a staff decision and whether a
-- household member gave it for the person. Until now both lived only in
-- the daemon's memory between the response's commit and its status write;
-- a crash in between, or a failed status write, left the status behind the
-- stored answers. safetyd now catches up from the responses themselves.
-- Adding a column with a constant default rewrites nothing.

ALTER TABLE response
	ADD COLUMN by_staff boolean NOT NULL DEFAULT false,
	ADD COLUMN proxy boolean NOT NULL DEFAULT false;

-- Proxy answers were recognisable by their derived provider reference.
UPDATE response SET proxy = true WHERE provider_ref LIKE '%/proxy/%';
UPDATE response SET by_staff = true
	WHERE channel = 'staff' AND status IN ('missing', 'deceased', 'evacuated');
