/*
 * The drivers that carry a message out: Kannel's sendsms, a
 * Twilio-compatible Messages API, SMTP, and a log that only records. Each
 * takes one message and reports once, through the callback, whether it was
 * accepted, failed for now (retry later), or failed for good (try the next
 * channel).
 */
#ifndef SAFETY_CHANNEL_H
#define SAFETY_CHANNEL_H

#include <stdbool.h>

struct daemon;

enum channel_outcome {
	CHANNEL_SENT,      /* accepted by the gateway */
	CHANNEL_TRANSIENT, /* try again later */
	CHANNEL_PERMANENT, /* this address will not work */
	/*
	 * The gateway or the way to it failed (refused login, wrong URL, down,
	 * unreachable, no connection in time): not this message's fault, so it stays queued,
	 * the attempt is not counted and the channel pauses.
	 */
	CHANNEL_ROUTE,
};

struct channel_message {
	long long outbox_id;
	const char *channel; /* "sms" or "email" */
	const char *recipient;
	const char *text; /* ready to send, reply link included */
	const char *subject;
	const char *language;
	int attempt; /* this send's number among the message's attempts, for its reports */
	bool drill;
};

/* Called exactly once per accepted send; strings are borrowed for the call. */
typedef void (*channel_done_cb)(long long outbox_id, enum channel_outcome outcome,
                                const char *provider_id, const char *error, int parts, void *arg);

/* The driver name configured for a channel ("kannel", "twilio", "smtp", "log"). */
const char *channel_driver_name(const struct daemon *d, const char *channel);

/*
 * Sends msg with the configured driver. Returns 0 and cb fires later, or -1
 * (cb never fires) when it could not even start.
 */
int channel_send(struct daemon *d, const struct channel_message *msg, channel_done_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* Parts an SMS text will take (GSM-7 or UCS-2), for the record. */
int channel_sms_parts(const char *text);

#endif
