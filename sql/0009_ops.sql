-- What operators watch: how long delivery reports take, read over the last
-- minutes without scanning every message ever sent.
CREATE INDEX outbox_delivered ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;
