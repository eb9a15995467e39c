// SPDX-License-Identifier: MIT
/*
 * tests/unit/rcu_put_assert.c - in a cache_debug build, a put inside an RCU
 * read section aborts (DESIGN.md §5: no put inside a read section), and so
 * does a *_locked function called without its lock.
 *
 * Each case runs in a forked child that builds a cache, takes a reference,
 * enters dcache_read_lock() and puts it.  The parent expects the child to
 * die of SIGABRT; a child that survives exits 0, which fails the test.
 * Control cases do the same put outside the read section and must exit 0.
 *
 * The same for the lock-held assertions of the *_locked functions: called
 * without the lock they document, they abort; with it, they do not.
 */
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dcache_i.h"
#include "unit.h"

enum which { PUT_DENTRY, PUT_INODE, ADD_LOCKED, UNHASH_LOCKED };

static void child(enum which w, bool in_rcu)
{
	struct rlimit no_core = {0, 0};
	struct dc_result res;
	struct dc_inode *inode;
	struct env e;

	setrlimit(RLIMIT_CORE, &no_core);
	/* Quiet the expected assertion message. */
	if (in_rcu && !freopen("/dev/null", "w", stderr))
		_exit(3);
	dcache_thread_enter();
	env_init(&e);
	if (mb_create(e.mb, "f", S_IFREG | 0644, NULL) ||
	    dcache_new(&e.cfg, &e.dc))
		_exit(2);
	memset(&res, 0, sizeof(res));
	if (dcache_walk(e.dc, "f", DC_WANT_DENTRY, &res) || !res.dentry)
		_exit(2);
	if (w == ADD_LOCKED) {
		/* in_rcu: break the rule, here "hold the lock" */
		if (!in_rcu)
			lockref_lock(&res.dentry->d_ref);
		lockref_add_locked(&res.dentry->d_ref, 0);
		if (!in_rcu)
			lockref_unlock(&res.dentry->d_ref);
		dentry_put(res.dentry);
	} else if (w == UNHASH_LOCKED) {
		struct dentry *parent = dentry_parent(res.dentry);

		if (!in_rcu)
			lockref_lock(&parent->d_ref);
		d_unhash_locked(res.dentry);
		if (!in_rcu)
			lockref_unlock(&parent->d_ref);
		dentry_put(parent);
		dentry_put(res.dentry);
	} else if (w == PUT_DENTRY) {
		if (in_rcu)
			dcache_read_lock();
		dentry_put(res.dentry);
		if (in_rcu)
			dcache_read_unlock();
	} else {
		inode = dentry_inode(res.dentry);
		if (!inode)
			_exit(2);
		if (in_rcu)
			dcache_read_lock();
		dc_inode_put(inode);
		if (in_rcu)
			dcache_read_unlock();
		dentry_put(res.dentry);
	}
	env_fini(&e);
	dcache_thread_exit();
	_exit(0);
}

/* Run child(@w, @in_rcu) and return its wait status, or -1. */
static int run(enum which w, bool in_rcu)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		child(w, in_rcu);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

static void __attribute__((unused)) check_locked(enum which w, const char *what)
{
	int st;

	st = run(w, false);
	ok(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "%s with the lock held: child exits 0 (status 0x%x)", what, st);
	st = run(w, true);
	ok(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
	   "%s without the lock: child aborts (status 0x%x%s)", what, st,
	   st >= 0 && WIFEXITED(st) ? ", it exited" : "");
}

static void __attribute__((unused)) check(enum which w, const char *what)
{
	int st;

	st = run(w, false);
	ok(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "%s outside a read section: child exits 0 (status 0x%x)", what, st);
	st = run(w, true);
	ok(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
	   "%s inside dcache_read_lock(): child aborts (status 0x%x%s)", what,
	   st, st >= 0 && WIFEXITED(st) ? ", it exited" : "");
}

int main(void)
{
	dcache_thread_enter();
#if defined(DCACHE_DEBUG) && DCACHE_DEBUG
	check(PUT_DENTRY, "dentry_put");
	check(PUT_INODE, "dc_inode_put");
	check_locked(ADD_LOCKED, "lockref_add_locked");
	check_locked(UNHASH_LOCKED, "d_unhash_locked");
#else
	printf("ok 1 # SKIP not a cache_debug build\n");
	dcache_thread_exit();
	printf("1..1\n");
	return 0;
#endif
	dcache_thread_exit();
	return tap_done();
}
