-- A mission lead who has reached a national and resolved a duress alert says
-- so with a staff entry; the entry carries the clearing, so that a status
-- derived again from the stored responses (after a crash or a failed status
-- write) clears the flag too. Only a staff decision can carry it.
-- Adding a column with a constant default rewrites nothing.

ALTER TABLE response
	ADD COLUMN clear_duress boolean NOT NULL DEFAULT false,
	-- NOT VALID: every existing row has the new column false, so there is
	-- nothing to check, and a check would read the whole table while it is
	-- locked (a migration is one transaction: a VALIDATE would run under the
	-- same lock). New and changed rows are checked all the same.
	ADD CONSTRAINT response_clear_duress_by_staff CHECK (NOT clear_duress OR (by_staff AND channel = 'staff')) NOT VALID;
