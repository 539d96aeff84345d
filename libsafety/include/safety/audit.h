/*
 * The tamper-evident chain of the audit log: each row's hash covers the
 * previous row's hash and every field of the row, so changing, removing or
 * reordering a stored row breaks every hash after it. The encoding is simple
 * enough to compute in SQL too, and both sides must agree byte for byte.
 *
 * The encoding. Take these eleven values, in this order:
 *
 *    1 prev_hash    the previous row's hash, 64 lower-case hex digits, or ""
 *                   for the first row of the chain
 *    2 id           decimal, as PostgreSQL's bigint::text writes it
 *                   ("42", "-7"; no sign for positives, no leading zeros)
 *    3 occurred_at  the exact string stored (see below)
 *    4 actor
 *    5 actor_role
 *    6 mission_id   decimal like id; 0 when the action belongs to no mission
 *    7 client_addr
 *    8 action
 *    9 object_type
 *   10 object_id
 *   11 summary      the JSON text exactly as stored
 *
 * Write each as its length in bytes of UTF-8, in decimal, then ':', then its
 * bytes: "" is "0:", "김" is "3:김". Concatenate the eleven; the row's hash is
 * the SHA-256 of that, in lower-case hex. A NULL string counts as "". For
 * example prev "", id 1, occurred_at "2024-05-01T00:00:00.000000Z", actor
 * "kim", actor_role "admin", mission_id 0, client_addr "192.0.2.1", action
 * "login", object_type "staff_user", object_id "1", summary "{}" give
 *
 *   0:1:127:2024-05-01T00:00:00.000000Z3:kim5:admin1:09:192.0.2.15:login
 *   10:staff_user1:12:{}
 *
 * (one line, broken here), whose hash is
 * 64f83bf563794449af225ccfe11f336ef0f85bb6615c3322a53fbbfd996697ea.
 *
 * In PostgreSQL (UTF8 database) this function gives the same hashes:
 *
 *   CREATE FUNCTION audit_chain_hash(prev text, id bigint, occurred_at text,
 *       actor text, actor_role text, mission_id bigint, client_addr text,
 *       action text, object_type text, object_id text, summary text)
 *   RETURNS text LANGUAGE sql IMMUTABLE AS $$
 *     SELECT encode(sha256(convert_to(
 *              string_agg(octet_length(f) || ':' || f, '' ORDER BY n),
 *              'UTF8')), 'hex')
 *     FROM unnest(ARRAY[coalesce(prev, ''), id::text, coalesce(occurred_at, ''),
 *            coalesce(actor, ''), coalesce(actor_role, ''),
 *            coalesce(mission_id, 0)::text, coalesce(client_addr, ''),
 *            coalesce(action, ''), coalesce(object_type, ''),
 *            coalesce(object_id, ''), coalesce(summary, '')])
 *          WITH ORDINALITY AS t(f, n)
 *   $$;
 *
 * (string_agg skips NULLs, hence every coalesce; a mission_id column that is
 * NULL for "no mission" hashes as 0.) Because the strings are hashed as
 * stored, keep them as text columns: a timestamptz printed by PostgreSQL
 * depends on the session's DateStyle and TimeZone, jsonb reorders keys and
 * drops whitespace, and inet::text appends "/32". Write occurred_at as
 * to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), the address
 * as host(addr), and summary as the very text the daemon produced.
 */
#ifndef SAFETY_AUDIT_H
#define SAFETY_AUDIT_H

#include <stddef.h>

#include <safety/error.h>

/* Characters of an audit hash in hex, without the NUL. */
#define SF_AUDIT_HASH_HEX 64

/* One audit row, as stored. The strings are borrowed; NULL counts as "". */
struct sf_audit_fields {
	long long id;
	const char *occurred_at; /* ISO 8601 UTC, "2024-05-01T12:34:56.123456Z" */
	const char *actor;       /* the staff login or API key name; "" for the system */
	const char *actor_role;
	long long mission_id; /* 0: none */
	const char *client_addr;
	const char *action; /* "login", "crisis.declare", "national.update"... */
	const char *object_type;
	const char *object_id;
	const char *summary; /* JSON text */
};

/*
 * Computes a row's hash from the previous row's (prev_hash_hex: 64 lower-case
 * hex digits, or "" for the first row) into out_hex, NUL-terminated, as the
 * header comment describes. Returns 0, SF_EINVAL for a NULL argument or a
 * malformed prev_hash_hex, or SF_EINTERNAL if OpenSSL failed.
 */
int sf_audit_chain_hash(const char *prev_hash_hex, const struct sf_audit_fields *row,
                        char out_hex[SF_AUDIT_HASH_HEX + 1]);

/*
 * Checks a stored row against its stored hash. Returns 0 if stored_hex is the
 * hash sf_audit_chain_hash gives, SF_EMISMATCH if not (the row, its hash or
 * the previous hash was changed), SF_EINVAL as sf_audit_chain_hash or when
 * stored_hex is not 64 lower-case hex digits.
 */
int sf_audit_chain_check(const char *prev_hash_hex, const struct sf_audit_fields *row,
                         const char *stored_hex);

#endif
