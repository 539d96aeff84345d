/*
 * The reply spool file. Each record is "SFR1", the payload's length (4
 * bytes, big-endian), the first 8 bytes of its SHA-256, then the payload
 * (a JSON object of the reply), written with one write. A record cut short
 * by a crash was never acknowledged (a reply is acknowledged only after
 * fdatasync); it is cut off when the spool is opened, so that replies
 * acknowledged later do not sit behind it. A damaged record is skipped: the
 * reading finds the next whole record by its magic and checksum. Replay
 * renames the file aside first, so replies spooled during a replay land in
 * a fresh file.
 */
#include "spool.h"

#include "daemon.h"
#include "log.h"
#include "replies.h"
#include "xmalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SPOOL_MAGIC "SFR1"
#define SPOOL_RECORD_MAX (64 * 1024)

struct spool {
	struct daemon *d;
	int fd;
	char *path, *replay_path;
	uint64_t depth; /* records in the current file */
	uint64_t replay_left;
	bool replaying;
	bool replay_damaged; /* damaged bytes were skipped: the file is kept */
	bool replay_keep;    /* a reply could not be spooled again: the file is replayed again */
	struct event *timer;
};

/* One replayed record, until its reply comes back. */
struct spool_replayed {
	struct spool *s;
	char *payload; /* the record's JSON, appended again if it could not be stored */
	size_t len;
	int attempts; /* replays the database refused before this one */
};

/*
 * Replays a reply the database keeps refusing is tried (about one a
 * second); then it is set aside in reply-spool.rejected for a person to
 * look at, rather than retried for ever.
 */
#define SPOOL_REPLAY_ATTEMPTS 100

static void spool_replay_cb(evutil_socket_t fd, short what, void *arg);
static int spool_write_all(int fd, const void *buf, size_t len);
static int spool_append_payload(struct spool *s, const char *payload, size_t len);

/*
 * Whether a whole record, checksum and all, starts at off; its payload's
 * length in *len.
 */
static bool
spool_record_at(const unsigned char *buf, size_t size, size_t off, uint32_t *len)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	uint32_t n;

	if (size - off < 16 || memcmp(buf + off, SPOOL_MAGIC, 4) != 0)
		return false;
	n = (uint32_t)buf[off + 4] << 24 | (uint32_t)buf[off + 5] << 16 |
	    (uint32_t)buf[off + 6] << 8 | buf[off + 7];
	if (n > SPOOL_RECORD_MAX || size - off - 16 < n)
		return false;
	EVP_Digest(buf + off + 16, n, md, &mdlen, EVP_sha256(), NULL);
	if (memcmp(md, buf + off + 8, 8) != 0)
		return false;
	*len = n;
	return true;
}

/*
 * The next whole record at or after off (its offset in *at), skipping
 * damaged bytes; false when there is none.
 */
static bool
spool_next_record(const unsigned char *buf, size_t size, size_t off, size_t *at, uint32_t *len)
{
	for (; off < size && size - off >= 16; off++) {
		const unsigned char *m = memchr(buf + off, SPOOL_MAGIC[0], size - off);

		if (m == NULL)
			return false;
		off = (size_t)(m - buf);
		if (spool_record_at(buf, size, off, len)) {
			*at = off;
			return true;
		}
	}
	return false;
}

/*
 * Reads a whole file; NULL (with *size 0) when it is missing or empty, and
 * NULL with *failed set (logged) when it could not be read whole: a short
 * buffer must never be taken for the file.
 */
static unsigned char *
spool_read_file(const char *path, size_t *size, bool *failed)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	unsigned char *buf = NULL;
	size_t got = 0;
	int err = 0;

	*size = 0;
	*failed = false;
	if (fd < 0) {
		if (errno == ENOENT)
			return NULL;
		err = errno;
		goto fail;
	}
	if (fstat(fd, &st) != 0) {
		err = errno;
		close(fd);
		goto fail;
	}
	if (st.st_size <= 0) {
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err = errno;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got == (size_t)st.st_size) {
		*size = got;
		return buf;
	}
	free(buf);
fail : {
	char sz[24];

	snprintf(sz, sizeof sz, "%zu", got);
	log_error("spool_read_failed", "path", path, "read", sz, "error",
	          err != 0 ? strerror(err) : "the file changed while it was read", "detail",
	          "the file is left as it is and tried again later");
	*failed = true;
	return NULL;
}
}

/*
 * Counts the whole records of a file; in *end, where the last of them
 * ends, and in *skipped, the damaged bytes between them. *failed when the
 * file could not be read whole.
 */
static uint64_t
spool_scan(const char *path, size_t *end, size_t *skipped, size_t *size, bool *failed)
{
	size_t n, off = 0, at, last = 0, bad = 0;
	uint32_t len;
	bool fail;
	unsigned char *buf = spool_read_file(path, &n, &fail);
	uint64_t count = 0;

	while (spool_next_record(buf, n, off, &at, &len)) {
		bad += at - off;
		off = at + 16 + len;
		last = off;
		count++;
	}
	free(buf);
	if (end != NULL)
		*end = last;
	if (skipped != NULL)
		*skipped = bad;
	if (size != NULL)
		*size = n;
	if (failed != NULL)
		*failed = fail;
	return count;
}

static uint64_t
spool_count(const char *path)
{
	return spool_scan(path, NULL, NULL, NULL, NULL);
}

/* Makes a new name in a directory last across a power cut. */
static void
spool_sync_dir(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int fd;

	if (slash != NULL)
		*slash = '\0';
	fd = open(slash != NULL ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		log_error("spool_dir_sync_failed", "error", strerror(errno));
	if (fd >= 0)
		close(fd);
	free(dir);
}

/*
 * Cuts what follows the last whole record of the spool: a record torn by a
 * crash was never acknowledged, and replies acknowledged after the restart
 * must not be appended behind it. Nothing is cut unless the file was read
 * whole and the bytes cut are kept aside first.
 */
static void
spool_cut_torn_tail(const char *path)
{
	size_t end, skipped, size;
	bool failed;

	spool_scan(path, &end, &skipped, &size, &failed);
	if (failed)
		return;
	if (size > end) {
		char cut[24], at[24], *aside;
		size_t n;
		unsigned char *buf = spool_read_file(path, &n, &failed);
		int fd;

		if (buf == NULL || n != size) {
			if (!failed)
				log_error(
				    "spool_torn_tail_kept", "detail",
				    "the spool changed while it was read; it is left as it is");
			free(buf);
			return;
		}
		snprintf(cut, sizeof cut, "%zu", size - end);
		snprintf(at, sizeof at, "%zu", end);
		/*
		 * The bytes cut are kept aside for a person to look at, under a name
		 * no other start (in the same second) reuses.
		 */
		xasprintf(&aside, "%s.torn.%lld.%ld", path, (long long)time(NULL), (long)getpid());
		fd = open(aside, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || spool_write_all(fd, buf + end, size - end) != 0 ||
		    fdatasync(fd) != 0) {
			log_error("spool_torn_tail_kept", "path", aside, "error", strerror(errno),
			          "detail", "the spool is left as it is");
			if (fd >= 0)
				close(fd);
			free(aside);
			free(buf);
			return;
		}
		close(fd);
		free(buf);
		spool_sync_dir(aside);
		if (truncate(path, (off_t)end) == 0)
			log_warn("spool_torn_tail_cut", "bytes", cut, "offset", at, "kept", aside,
			         "detail", "bytes after the last whole record, set aside");
		else
			log_error("spool_truncate_failed", "error", strerror(errno));
		free(aside);
	}
}

/* Opens the spool. */
bool
spool_open(struct daemon *d, char **cause)
{
	struct spool *s = xcalloc(1, sizeof *s);
	struct timeval tv = {1, 0};

	s->d = d;
	xasprintf(&s->path, "%s/reply-spool", d->cfg.state_dir);
	xasprintf(&s->replay_path, "%s/reply-spool.replay", d->cfg.state_dir);
	spool_cut_torn_tail(s->path);
	s->fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (s->fd < 0) {
		xasprintf(cause, "cannot open the reply spool %s: %s (check [paths] state_dir)",
		          s->path, strerror(errno));
		free(s->path);
		free(s->replay_path);
		free(s);
		return false;
	}
	s->depth = spool_count(s->path) + spool_count(s->replay_path);
	s->timer = event_new(d->base, -1, EV_PERSIST, spool_replay_cb, s);
	event_add(s->timer, &tv);
	d->spool = s;
	if (s->depth > 0) {
		char n[24];
		snprintf(n, sizeof n, "%llu", (unsigned long long)s->depth);
		log_warn("spool_found", "replies", n, "detail",
		         "replayed once the database answers");
	}
	return true;
}

/* Closes the spool. */
void
spool_close(struct daemon *d)
{
	struct spool *s = d->spool;

	if (s == NULL)
		return;
	event_free(s->timer);
	close(s->fd);
	free(s->path);
	free(s->replay_path);
	free(s);
	d->spool = NULL;
}

/* Replies waiting. */
uint64_t
spool_depth(const struct daemon *d)
{
	return d->spool != NULL ? d->spool->depth : 0;
}

/* Writes all of buf. */
static int
spool_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Writes a record's head and payload with one write, so that a crash
 * rarely leaves a head without its payload; a short write goes on with
 * the rest.
 */
static int
spool_writev(int fd, const char *head, const char *payload, size_t len)
{
	struct iovec iov[2] = {{(void *)head, 16}, {(void *)payload, len}};
	ssize_t n;

	do
		n = writev(fd, iov, 2);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n < 16)
		return spool_write_all(fd, head + n, 16 - (size_t)n) == 0 &&
		               spool_write_all(fd, payload, len) == 0
		           ? 0
		           : -1;
	return spool_write_all(fd, payload + ((size_t)n - 16), len - ((size_t)n - 16));
}

/* Makes what was appended durable: one fdatasync for a whole batch. */
int
spool_sync(struct daemon *d)
{
	struct spool *s = d->spool;

	if (s == NULL || fdatasync(s->fd) != 0) {
		log_error("spool_sync_failed", "error", strerror(errno));
		return -1;
	}
	return 0;
}

/* Appends one reply (not yet durable: call spool_sync before acknowledging). */
int
spool_append(struct daemon *d, const struct reply_input *in, int64_t received_ms)
{
	struct spool *s = d->spool;
	cJSON *j;
	char *payload;
	size_t len;
	int rc;

	if (s == NULL)
		return -1;
	j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "crisis_id", (double)in->crisis_id);
	cJSON_AddNumberToObject(j, "national_id", (double)in->national_id);
	cJSON_AddStringToObject(j, "channel", in->channel);
	if (in->sender != NULL)
		cJSON_AddStringToObject(j, "sender", in->sender);
	if (in->raw_text != NULL)
		cJSON_AddStringToObject(j, "text", in->raw_text);
	if (in->words != NULL)
		cJSON_AddStringToObject(j, "words", in->words);
	cJSON_AddStringToObject(j, "status", sf_status_name(in->status));
	cJSON_AddBoolToObject(j, "unclassified", in->unclassified);
	cJSON_AddBoolToObject(j, "review", in->review);
	cJSON_AddNumberToObject(j, "headcount", in->headcount);
	if (in->has_point) {
		cJSON_AddNumberToObject(j, "lat", in->lat);
		cJSON_AddNumberToObject(j, "lon", in->lon);
	}
	cJSON_AddStringToObject(j, "ref", in->provider_ref);
	if (in->entered_by != NULL)
		cJSON_AddStringToObject(j, "entered_by", in->entered_by);
	cJSON_AddBoolToObject(j, "by_staff", in->by_staff);
	cJSON_AddBoolToObject(j, "proxy", in->proxy);
	if (in->clear_duress)
		cJSON_AddBoolToObject(j, "clear_duress", true);
	cJSON_AddBoolToObject(j, "require_active", in->require_active);
	cJSON_AddNumberToObject(j, "received_ms", (double)received_ms);
	payload = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	len = strlen(payload);
	rc = spool_append_payload(s, payload, len);
	memset(payload, 0, len);
	free(payload);
	return rc;
}

/*
 * Appends one record holding payload. A write cut short (a full disk) is
 * undone, so that no half record sits before the next acknowledged ones.
 */
static int
spool_append_payload(struct spool *s, const char *payload, size_t len)
{
	char head[16];
	unsigned char md[32];
	unsigned int mdlen = 0;
	off_t end;
	int rc;

	if (len > SPOOL_RECORD_MAX)
		return -1;
	end = lseek(s->fd, 0, SEEK_END);
	EVP_Digest(payload, len, md, &mdlen, EVP_sha256(), NULL);
	memcpy(head, SPOOL_MAGIC, 4);
	head[4] = (char)(len >> 24);
	head[5] = (char)(len >> 16);
	head[6] = (char)(len >> 8);
	head[7] = (char)len;
	memcpy(head + 8, md, 8);
	rc = spool_writev(s->fd, head, payload, len);
	if (rc == 0) {
		s->depth++;
	} else {
		log_error("spool_write_failed", "error", strerror(errno));
		if (end >= 0 && ftruncate(s->fd, end) != 0)
			log_error("spool_truncate_failed", "error", strerror(errno));
	}
	return rc;
}

/* A replayed reply, or the replay's own hold, is done. */
static void
spool_release(struct spool *s)
{
	char *aside;

	if (--s->replay_left > 0)
		return;
	s->replaying = false;
	/* Nothing is in flight: the depth is what waits in the current file. */
	s->depth = spool_count(s->path);
	if (s->replay_keep) {
		/* A reply is neither stored nor spooled again: the whole file is tried again. */
		s->depth += spool_count(s->replay_path);
		log_error("spool_replay_kept", "detail", "replayed again in a second");
		return;
	}
	/* Every reply is now in the database or back in the fresh spool. */
	if (!s->replay_damaged) {
		unlink(s->replay_path);
		log_info("spool_replayed");
		return;
	}
	/* Every whole record was replayed; the damaged bytes are kept for a person to look at. */
	xasprintf(&aside, "%s.damaged.%lld", s->replay_path, (long long)time(NULL));
	if (rename(s->replay_path, aside) == 0)
		log_error("spool_damaged_kept", "path", aside);
	else
		log_error("spool_damaged_rename_failed", "error", strerror(errno));
	free(aside);
}

/*
 * A replayed reply the database refused: back to the fresh spool with its
 * count of attempts, or set aside once it has had its tries. If neither can
 * be written, the replay file is kept and replayed whole again.
 */
static void
spool_retry_later(struct spool *s, struct spool_replayed *rp)
{
	cJSON *j = cJSON_ParseWithLength(rp->payload, rp->len);
	char *payload = NULL;
	bool ok = false;

	if (j != NULL) {
		cJSON_DeleteItemFromObject(j, "attempts");
		cJSON_AddNumberToObject(j, "attempts", rp->attempts + 1);
		payload = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
	}
	if (payload != NULL && rp->attempts + 1 < SPOOL_REPLAY_ATTEMPTS) {
		ok =
		    spool_append_payload(s, payload, strlen(payload)) == 0 && fdatasync(s->fd) == 0;
		if (ok)
			log_warn("spool_reply_failed", "detail", "spooled again, tried later");
	} else if (payload != NULL) {
		char *path;
		int fd;

		xasprintf(&path, "%s.rejected", s->path);
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		ok = fd >= 0 && spool_write_all(fd, payload, strlen(payload)) == 0 &&
		     spool_write_all(fd, "\n", 1) == 0 && fdatasync(fd) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			log_error("spool_reply_rejected", "path", path, "detail",
			          "the database refused it at every replay; set aside");
		free(path);
	}
	if (payload != NULL) {
		memset(payload, 0, strlen(payload));
		free(payload);
	}
	if (!ok)
		s->replay_keep = true;
}

/*
 * One replayed reply came back: in the database, or spooled again by the
 * store. One the database refused to store goes back to the fresh spool, to
 * be tried again, so that it holds up no other and is never dropped.
 */
static void
spool_replayed_cb(enum reply_outcome outcome, bool duress, void *arg)
{
	struct spool_replayed *rp = arg;
	struct spool *s = rp->s;

	(void)duress;
	if (s->depth > 0)
		s->depth--;
	if (outcome == REPLY_FAILED)
		spool_retry_later(s, rp);
	else if (outcome == REPLY_REFUSED) {
		/* Only a person removed from the registry meanwhile has nowhere to go. */
		log_warn("spool_reply_refused", "detail", "the person is no longer registered");
	}
	memset(rp->payload, 0, rp->len);
	free(rp->payload);
	free(rp);
	spool_release(s);
}

/* Reads the set-aside file and submits every whole record, skipping damaged bytes. */
static void
spool_replay(struct spool *s)
{
	size_t size, off = 0, at;
	uint32_t len;
	unsigned char *buf;
	uint64_t n = 0;

	bool failed;

	if (access(s->replay_path, F_OK) != 0)
		return;
	buf = spool_read_file(s->replay_path, &size, &failed);
	if (failed)
		return; /* kept whole, tried again at the next tick */
	s->replaying = true;
	s->replay_damaged = false;
	s->replay_keep = false;
	s->replay_left = 1; /* held until every record is submitted */
	while (off < size) {
		char *payload;
		cJSON *j;
		struct reply_input in;

		if (!spool_next_record(buf, size, off, &at, &len)) {
			/* A head cut short by a crash was never acknowledged; anything else is
			 * damage. */
			size_t rest = size - off;

			if (rest >= 16 || memcmp(buf + off, SPOOL_MAGIC, rest < 4 ? rest : 4) != 0)
				s->replay_damaged = true;
			log_error("spool_damaged_record", "detail", "no whole record after it");
			break;
		}
		if (at > off) {
			char skipped[24];

			snprintf(skipped, sizeof skipped, "%zu", at - off);
			log_error("spool_damaged_record", "bytes", skipped, "detail",
			          "skipped; reading goes on with the next whole record");
			s->replay_damaged = true;
		}
		payload = xmalloc(len + 1);
		memcpy(payload, buf + at + 16, len);
		payload[len] = '\0';
		off = at + 16 + len;
		if ((j = cJSON_Parse(payload)) == NULL) {
			log_error("spool_damaged_record", "detail", "not JSON; skipped");
			s->replay_damaged = true;
			free(payload);
			continue;
		}
		memset(&in, 0, sizeof in);
		in.crisis_id = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "crisis_id"));
		in.national_id =
		    (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "national_id"));
		in.channel = cJSON_GetStringValue(cJSON_GetObjectItem(j, "channel"));
		in.sender = cJSON_GetStringValue(cJSON_GetObjectItem(j, "sender"));
		in.raw_text = cJSON_GetStringValue(cJSON_GetObjectItem(j, "text"));
		in.words = cJSON_GetStringValue(cJSON_GetObjectItem(j, "words"));
		{
			const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(j, "status"));
			if (st == NULL || sf_status_parse(st, strlen(st), &in.status) != 0)
				in.status = SF_STATUS_PENDING;
		}
		in.unclassified = cJSON_IsTrue(cJSON_GetObjectItem(j, "unclassified"));
		in.review = cJSON_IsTrue(cJSON_GetObjectItem(j, "review"));
		in.headcount = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "headcount"));
		if (cJSON_IsNumber(cJSON_GetObjectItem(j, "lat"))) {
			in.has_point = true;
			in.lat = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "lat"));
			in.lon = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "lon"));
		}
		in.provider_ref = cJSON_GetStringValue(cJSON_GetObjectItem(j, "ref"));
		in.entered_by = cJSON_GetStringValue(cJSON_GetObjectItem(j, "entered_by"));
		in.by_staff = cJSON_IsTrue(cJSON_GetObjectItem(j, "by_staff"));
		in.proxy = cJSON_IsTrue(cJSON_GetObjectItem(j, "proxy"));
		in.clear_duress = cJSON_IsTrue(cJSON_GetObjectItem(j, "clear_duress"));
		/*
		 * The reply was acknowledged: it is stored even if its crisis has
		 * closed meanwhile, unless the person is gone from the registry.
		 */
		in.require_active = false;
		in.replayed = true;
		in.received_ms =
		    (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "received_ms"));
		if (in.channel != NULL && in.provider_ref != NULL) {
			struct spool_replayed *rp = xcalloc(1, sizeof *rp);

			rp->s = s;
			rp->payload = xstrdup(payload);
			rp->len = len;
			{
				const cJSON *a = cJSON_GetObjectItem(j, "attempts");

				if (cJSON_IsNumber(a) && a->valuedouble >= 0 &&
				    a->valuedouble <= SPOOL_REPLAY_ATTEMPTS)
					rp->attempts = (int)a->valuedouble;
			}
			s->replay_left++;
			replies_submit(s->d, &in, spool_replayed_cb, rp);
			n++;
		}
		cJSON_Delete(j);
		memset(payload, 0, len);
		free(payload);
	}
	if (buf != NULL) {
		memset(buf, 0, size);
		free(buf);
	}
	if (n > 0) {
		char num[24];
		snprintf(num, sizeof num, "%llu", (unsigned long long)n);
		log_info("spool_replaying", "replies", num);
	}
	spool_release(s);
}

/* Every second: once the database answers, replay what waits. */
static void
spool_replay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct spool *s = arg;
	struct stat st;

	(void)fd;
	(void)what;
	if (s->replaying || !s->d->schema_ok || !db_pool_connected(s->d->db))
		return;
	if (stat(s->replay_path, &st) != 0) {
		/* Nothing set aside: set the current file aside if it has records. */
		if (fstat(s->fd, &st) != 0 || st.st_size == 0)
			return;
		if (rename(s->path, s->replay_path) != 0) {
			log_error("spool_rename_failed", "error", strerror(errno));
			return;
		}
		close(s->fd);
		s->fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (s->fd < 0) {
			log_error("spool_reopen_failed", "error", strerror(errno));
			return;
		}
	}
	spool_replay(s);
}
