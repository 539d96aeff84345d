/*
 * Delivery reports with group commit. A campaign of a million messages
 * brings two million reports back (Twilio's "sent" then "delivered", Kannel's
 * "accepted" then "delivered"); one statement and one commit each would make
 * the reports, not the messages, the limit. Reports that arrive in one loop
 * turn are applied by one statement, and each is answered once committed,
 * so a report the gateway saw acknowledged is never lost.
 */
#ifndef SAFETY_DLR_H
#define SAFETY_DLR_H

struct daemon;
struct http_ctx;

/* What a report says of its message. */
enum dlr_state {
	DLR_PROGRESS,  /* accepted, buffered, sent: nothing final yet */
	DLR_DELIVERED, /* on the phone */
	DLR_FAILED,    /* will not arrive: the person is asked again at once */
};

void dlr_start(struct daemon *d);

/* Answers what is still queued or held with 503 (a gateway that retries delivers it again). */
void dlr_stop(struct daemon *d);

/*
 * Outcomes of sent messages were just written: reports held because they
 * named no message yet are tried again now.
 */
void dlr_outcomes_written(struct daemon *d);

/*
 * Queues a report for the message with our outbox id (Kannel's dlr-url
 * carries it) or, when outbox_id is 0, the message Twilio named sid.
 * attempt, when not 0, is the send reported on (Kannel's dlr-url carries
 * it): a failure of another send than the message's last fails nothing.
 * error is kept for a failure. Answers ctx with 200 and
 * {"updated": 0|1, "reasked": 0|1} once committed, or with a problem. A
 * report by sid that matches no message is held and tried again, as long
 * as a send can take, before it is answered {"updated": 0}.
 */
void dlr_submit(struct daemon *d, struct http_ctx *ctx, long long outbox_id, int attempt,
                const char *sid, enum dlr_state state, const char *error);

#endif
