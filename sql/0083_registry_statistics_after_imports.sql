-- A large import refreshes the registry's statistics at once.
--
-- After an import adds or changes tens of thousands of people, the planner
-- went on planning with the figures of the registry before it (autovacuum
-- analyzes only later): the same file imported again within the minute was
-- matched by nested loops over tables it took for a few hundred rows, and
-- 40,000 rows took 540 s instead of 4.5 s. The import now calls this after
-- committing a large change. ANALYZE needs the tables' owner, and safetyd
-- connects as a role that owns nothing: hence SECURITY DEFINER, doing only
-- this.
CREATE FUNCTION registry_analyze() RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
	ANALYZE public.national;
	ANALYZE public.contact;
	ANALYZE public.location;
	ANALYZE public.household;
END
$$;
