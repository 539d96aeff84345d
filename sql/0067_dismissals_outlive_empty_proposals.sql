-- A dismissal stands when the proposal loses every other mission.
--
-- An event dismissed by one mission was proposed again to a second one that
-- had nationals inside. When those left the area, the next update of the
-- event found the proposal concerned nobody and deleted it, and with it the
-- first mission's dismissal: the update after that proposed the event to
-- the first mission again, as if it had never been turned down. A proposal
-- someone dismissed is now kept, dismissed, instead of deleted, so the
-- dismissal stays with the event (updates find it by its source and
-- references, as before, and propose it only to missions new to it).

CREATE FUNCTION crisis_keep_dismissed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.state = 'proposed' AND EXISTS (SELECT 1 FROM crisis_dismissal d
			WHERE d.crisis_id = OLD.id) THEN
		UPDATE crisis SET state = 'dismissed', closed_at = now(), updated_at = now()
			WHERE id = OLD.id;
		RETURN NULL;
	END IF;
	RETURN OLD;
END
$$;
CREATE TRIGGER crisis_keep_dismissed BEFORE DELETE ON crisis
	FOR EACH ROW EXECUTE FUNCTION crisis_keep_dismissed();
