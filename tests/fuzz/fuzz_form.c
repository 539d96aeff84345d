/*
 * HTTP form bodies as the reply page and the Twilio hook receive them:
 * decoded by libevent, then the answer's text read by the reply parser.
 */
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <safety/reply.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evkeyvalq form;
	struct sf_reply reply;
	const char *v;
	char *body;

	if (size > 8192)
		return 0;
	body = malloc(size + 1);
	if (body == NULL)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';
	TAILQ_INIT(&form);
	if (evhttp_parse_query_str(body, &form) == 0) {
		if ((v = evhttp_find_header(&form, "message")) != NULL)
			(void)sf_reply_parse(v, strlen(v), &reply);
		if ((v = evhttp_find_header(&form, "Body")) != NULL)
			(void)sf_reply_parse(v, strlen(v), &reply);
		(void)evhttp_find_header(&form, "status");
		(void)evhttp_find_header(&form, "people");
	}
	evhttp_clear_headers(&form);
	free(body);
	return 0;
}
