/* SPDX-License-Identifier: MIT */
/*
 * fs/ops/thread.c - RCU registration of libfuse's worker threads.
 *
 * libfuse creates its workers itself and cancels them at exit, so each one
 * registers on its first request (a thread-local flag makes the check one
 * load) and a pthread_key destructor, which POSIX runs on cancellation
 * too, unregisters it (DESIGN.md §6).
 */
#include "ops/ops_i.h"

#include <pthread.h>

static pthread_key_t exit_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static __thread bool entered;

static void on_thread_exit(void *arg)
{
	(void)arg;
	rfs_opstats_thread_exit();
	dcache_thread_exit();
}

static void make_key(void)
{
	pthread_key_create(&exit_key, on_thread_exit);
}

void rfs_thread_enter(void)
{
	if (__builtin_expect(entered, 1))
		return;
	pthread_once(&key_once, make_key);
	dcache_thread_enter();
	rfs_opstats_thread_init();
	/* any non-NULL value makes the destructor run at thread exit */
	pthread_setspecific(exit_key, (void *)1);
	entered = true;
}
