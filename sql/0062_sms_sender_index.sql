-- A sender's SMS by id, newest first.
--
-- A Kannel message without an id whose key is already stored is a retry
-- only when the sender's latest SMS since holds that key. Without this
-- index that latest SMS was found by reading every answer stored since the
-- key's (back through the primary key, filtered by sender): a retry five
-- minutes late, at thousands of answers a second, read a million rows and
-- held up every answer of its batch. Only SMS rows are indexed, so answers
-- on the reply page pay nothing for it.
CREATE INDEX response_sms_sender ON response (sender, id) WHERE channel = 'sms';
