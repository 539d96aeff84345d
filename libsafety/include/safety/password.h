/*
 * Staff passwords: the strength policy, scrypt hashing, and the stored string
 * `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` that names its own parameters so they
 * can be raised later without breaking existing rows (see src/auth.md).
 */
#ifndef SAFETY_PASSWORD_H
#define SAFETY_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include <safety/error.h>

/* Shortest password the policy accepts, in Unicode code points. */
#define SF_PASSWORD_MIN_CHARS 12
/* Longest password accepted anywhere, in bytes of UTF-8. */
#define SF_PASSWORD_MAX_BYTES 1024
/* Buffer that holds any encoded string this module writes, with its NUL. */
#define SF_PASSWORD_ENCODED_MAX 128
/* Random salt and derived hash written by sf_password_hash, in bytes. */
#define SF_PASSWORD_SALT_BYTES 16
#define SF_PASSWORD_HASH_BYTES 32

/*
 * Bounds on the parameters, for hashing and for parsing stored strings, so a
 * tampered row cannot make a verification take gigabytes or minutes: ln in
 * 10..22, r in 1..32, p in 1..16, ln < 16 r (RFC 7914), and the memory scrypt
 * needs, 128 r (2^ln + p + 2) bytes, at most SF_PASSWORD_MAXMEM.
 */
#define SF_PASSWORD_LN_MIN 10
#define SF_PASSWORD_LN_MAX 22
#define SF_PASSWORD_R_MIN 1
#define SF_PASSWORD_R_MAX 32
#define SF_PASSWORD_P_MIN 1
#define SF_PASSWORD_P_MAX 16
#define SF_PASSWORD_MAXMEM (1024ULL * 1024 * 1024)

/* scrypt's cost parameters: N = 2^ln, block size r, parallelism p. */
struct sf_password_params {
	unsigned ln;
	unsigned r;
	unsigned p;
};

/* The defaults, ln=15 r=8 p=1: about 32 MiB and some tens of milliseconds per hash. */
extern const struct sf_password_params sf_password_params_default;

/* A cheap preset, ln=10 r=8 p=1 (1 MiB), for tests only: too weak for real rows. */
extern const struct sf_password_params sf_password_params_cheap;

/*
 * Hashes password with a fresh 16-byte salt and writes the encoded string,
 * NUL-terminated, into out (SF_PASSWORD_ENCODED_MAX bytes always suffice).
 * params NULL means the defaults. The password is taken as UTF-8 and put in
 * Unicode NFKC first, so the same characters typed on different keyboards
 * hash alike. Returns 0; SF_EINVAL for a NULL, empty or non-UTF-8 password or
 * parameters out of bounds; SF_ETOOLONG for a password over
 * SF_PASSWORD_MAX_BYTES or an out buffer too small; SF_EINTERNAL if OpenSSL
 * failed. This does not apply the policy: call sf_password_check_policy
 * first when the password is being chosen. Takes tens of milliseconds at the
 * defaults: the daemon runs it off its event loop.
 */
int sf_password_hash(const char *password, const struct sf_password_params *params, char *out,
                     size_t outsz);

/*
 * Checks password against an encoded string. Returns 0 if it matches,
 * SF_EMISMATCH if not (also for an empty, over-long or non-UTF-8 password,
 * none of which can have been hashed), SF_EINVAL if encoded is NULL or
 * malformed or names parameters out of bounds, or if password is NULL, and
 * SF_EINTERNAL if OpenSSL failed. The hashes are compared in constant time.
 */
int sf_password_verify(const char *password, const char *encoded);

/*
 * Sets *needs to true when encoded was made with other parameters (or salt or
 * hash length) than params (NULL: the defaults), so the caller should hash the
 * password again after a successful verification. Returns 0, or SF_EINVAL for
 * a malformed encoded string or params out of bounds.
 */
int sf_password_needs_rehash(const char *encoded, const struct sf_password_params *params,
                             bool *needs);

/*
 * Applies the policy for a newly chosen password: valid UTF-8, at most
 * SF_PASSWORD_MAX_BYTES bytes, at least SF_PASSWORD_MIN_CHARS code points,
 * and not one character repeated. Returns 0, or SF_EINVAL (missing, not UTF-8,
 * one repeated character), SF_ETOOLONG or SF_ERANGE (too short), with a
 * message naming the reason in err (if err is not NULL).
 */
int sf_password_check_policy(const char *password, char *err, size_t errsz);

#endif
