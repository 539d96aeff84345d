-- An import must recognise a person staff deleted, so as not to bring them
-- back unasked: their passport is looked up among the deleted of the
-- mission. Only deleted rows are in this index, so it costs nothing to
-- the inserts of an import or a registration.
CREATE INDEX national_deleted_passport ON national (mission_id, passport_no)
	WHERE deleted_at IS NOT NULL AND passport_no IS NOT NULL;
