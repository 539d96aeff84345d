/*
 * Worker threads fed from one mutex-protected queue. A finished job is
 * handed back by activating its event, which libevent (with pthreads
 * support on) delivers on the loop thread.
 */
#include "worker.h"

#include "xmalloc.h"

#include <pthread.h>
#include <stdlib.h>

struct worker_job {
	struct worker_job *next;
	struct worker_pool *pool;
	worker_work_cb work;
	worker_done_cb done;
	void *arg;
	struct event *ev;
};

struct worker_pool {
	struct event_base *base;
	pthread_t *threads;
	int nthreads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct worker_job *head, *tail;
	int pending; /* queued or running or awaiting done; loop thread only */
	bool stopping;
};

/* The job's done callback, on the loop thread. */
static void
worker_job_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker_job *job = arg;

	(void)fd;
	(void)what;
	job->pool->pending--;
	job->done(job->arg);
	event_free(job->ev);
	free(job);
}

/* A worker thread's loop. */
static void *
worker_thread_main(void *arg)
{
	struct worker_pool *pool = arg;
	struct worker_job *job;

	for (;;) {
		pthread_mutex_lock(&pool->lock);
		while (pool->head == NULL && !pool->stopping)
			pthread_cond_wait(&pool->cond, &pool->lock);
		job = pool->head;
		if (job == NULL) {
			pthread_mutex_unlock(&pool->lock);
			return NULL;
		}
		pool->head = job->next;
		if (pool->head == NULL)
			pool->tail = NULL;
		pthread_mutex_unlock(&pool->lock);
		job->work(job->arg);
		event_active(job->ev, EV_TIMEOUT, 0);
	}
}

/* Starts the threads. */
struct worker_pool *
worker_pool_new(struct event_base *base, int nthreads)
{
	struct worker_pool *pool = xcalloc(1, sizeof *pool);

	pool->base = base;
	pool->nthreads = nthreads;
	pool->threads = xcalloc((size_t)nthreads, sizeof *pool->threads);
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cond, NULL);
	for (int i = 0; i < nthreads; i++)
		pthread_create(&pool->threads[i], NULL, worker_thread_main, pool);
	return pool;
}

/* Queues a job. */
int
worker_pool_submit(struct worker_pool *pool, worker_work_cb work, worker_done_cb done, void *arg)
{
	struct worker_job *job;

	if (pool->stopping)
		return -1;
	job = xcalloc(1, sizeof *job);
	job->pool = pool;
	job->work = work;
	job->done = done;
	job->arg = arg;
	job->ev = event_new(pool->base, -1, 0, worker_job_done_cb, job);
	pool->pending++;
	pthread_mutex_lock(&pool->lock);
	if (pool->tail != NULL)
		pool->tail->next = job;
	else
		pool->head = job;
	pool->tail = job;
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

/* Jobs not yet delivered. */
int
worker_pool_pending(const struct worker_pool *pool)
{
	return pool->pending;
}

/* Drains, joins and frees. */
void
worker_pool_free(struct worker_pool *pool)
{
	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	for (int i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	/* Deliver what finished but was not yet seen by the loop. */
	while (pool->pending > 0)
		event_base_loop(pool->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->cond);
	free(pool->threads);
	free(pool);
}
