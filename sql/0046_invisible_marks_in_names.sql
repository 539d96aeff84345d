-- The name module now drops the marks that show nothing from names and their
-- search keys: the combining grapheme joiner U+034F and the variation
-- selectors (U+FE00–FE0F, U+E0100–E01EF, Mongolian U+180B–180D, U+180F),
-- except, in a name, a variation selector right after a Han character,
-- which picks the form of a character a family registered. Names stored
-- before kept them, and would no longer meet the same name typed without
-- them; this takes them out as the module does.

CREATE FUNCTION pg_temp.shown_name(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT regexp_replace(regexp_replace(v, '[\u034f\u180b-\u180d\u180f]', '', 'g'),
		'(?<![\u2e80-\u2fdf\u3005\u3007\u3021-\u3029\u3038-\u303b\u3400-\u4dbf\u4e00-\u9fff'
		'\uf900-\ufaff\U00020000-\U0003134f])[\ufe00-\ufe0f\U000e0100-\U000e01ef]', '', 'g')
$$;

UPDATE national SET name_ko = pg_temp.shown_name(name_ko),
	name_latin = pg_temp.shown_name(name_latin),
	name_key = regexp_replace(name_key,
		'[\u034f\u180b-\u180d\u180f\ufe00-\ufe0f\U000e0100-\U000e01ef]', '', 'g')
	WHERE name_ko ~ '[\u034f\u180b-\u180d\u180f\ufe00-\ufe0f\U000e0100-\U000e01ef]'
	OR name_latin ~ '[\u034f\u180b-\u180d\u180f\ufe00-\ufe0f\U000e0100-\U000e01ef]'
	OR name_key ~ '[\u034f\u180b-\u180d\u180f\ufe00-\ufe0f\U000e0100-\U000e01ef]';

DROP FUNCTION pg_temp.shown_name(text);
