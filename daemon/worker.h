/*
 * A small pool of threads for work that would block the loop: password
 * hashing now, evacuation planning later. A job's work runs on a thread;
 * its done callback runs afterwards on the loop thread, exactly once.
 */
#ifndef SAFETY_WORKER_H
#define SAFETY_WORKER_H

#include <event2/event.h>
#include <stdbool.h>

struct worker_pool;

/* Runs on a worker thread; must not touch loop state. */
typedef void (*worker_work_cb)(void *arg);
/* Runs on the loop thread after work returned. */
typedef void (*worker_done_cb)(void *arg);

/* Starts nthreads threads. The event base must have threading enabled. */
struct worker_pool *worker_pool_new(struct event_base *base, int nthreads);

/*
 * Queues a job. done fires on the loop once work finished. Returns -1 when
 * the pool is stopping (then neither callback fires).
 */
int worker_pool_submit(struct worker_pool *pool, worker_work_cb work, worker_done_cb done,
                       void *arg) __attribute__((warn_unused_result));

/* Number of jobs queued or running. */
int worker_pool_pending(const struct worker_pool *pool);

/*
 * Stops the threads after the jobs already queued, then runs their done
 * callbacks and frees the pool. NULL is a no-op.
 */
void worker_pool_free(struct worker_pool *pool);

#endif
