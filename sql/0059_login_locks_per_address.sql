-- Failed logins counted per account and client address (an IPv6 /64 as one
-- address): guesses from one address lock that address out of the account,
-- not its owner everywhere. The account's own counter in staff_user keeps
-- a much higher ceiling across every address against guessing spread over
-- many. A row lives while its failures count; a success from the address
-- or an unlock removes it.
CREATE TABLE login_lock (
	user_id bigint NOT NULL REFERENCES staff_user (id) ON DELETE CASCADE,
	-- The address as the per-address rate limits key it.
	client_key text NOT NULL CHECK (length(client_key) BETWEEN 1 AND 64),
	failed_logins integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
	last_failed_at timestamptz NOT NULL DEFAULT now(),
	locked_until timestamptz,
	PRIMARY KEY (user_id, client_key)
);
CREATE INDEX login_lock_last_failed ON login_lock (last_failed_at);
