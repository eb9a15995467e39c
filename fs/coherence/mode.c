/* SPDX-License-Identifier: MIT */
/*
 * fs/coherence/mode.c - the coherence mode and its policy: the timeouts
 * each mode gives the kernel and the dcache, falling back to timeout mode
 * when watching fails (degrade), whether the kernel may keep pages and
 * listings, and the "coherence" section of rcufs stats.
 */
#include "coherence/coherence_i.h"
#include "coherence/remote.h"
#include "stats/stats.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool degraded; /* wfs_lock */

uint64_t rfs_ttl_ns(double s)
{
	return s >= 1e9 ? DC_TTL_FOREVER : (uint64_t)(s * 1e9);
}

void rfs_set_timeouts(double entry, double attr, double negative,
		      bool cache_too)
{
	__atomic_store(&rfs.o.entry_timeout, &entry, __ATOMIC_RELAXED);
	__atomic_store(&rfs.o.attr_timeout, &attr, __ATOMIC_RELAXED);
	__atomic_store(&rfs.o.negative_timeout, &negative, __ATOMIC_RELAXED);
	if (cache_too && rfs.dc)
		dcache_set_ttls(rfs.dc, rfs_ttl_ns(entry), rfs_ttl_ns(negative),
				rfs_ttl_ns(attr));
}

/*
 * The timeouts' defaults follow coherence=; explicit options win.
 *   watch      an hour in the kernel, the dcache until invalidated; if
 *              the watcher cannot run: timeout mode (1 s, or the explicit
 *              values)
 *   timeout    1 s, kernel and dcache alike
 *   exclusive  a day in the kernel, the dcache until invalidated,
 *              writeback cache on (nowriteback turns it off)
 *   strict     0: every request revalidates with SOURCE (= cache=off)
 */
const char *rfs_apply_coherence(void)
{
	double def;

	if (rfs.o.cache_off)
		rfs.o.coherence = RFS_COH_STRICT;
	switch (rfs.o.coherence) {
	case RFS_COH_WATCH:
		def = 3600;
		break;
	case RFS_COH_EXCLUSIVE:
		def = 86400;
		if (!rfs.o.writeback_set)
			rfs.o.writeback = true;
		break;
	case RFS_COH_STRICT:
		def = 0;
		rfs.o.cache_off = true;
		break;
	default:
		def = 1;
	}
	if (rfs.o.watcher != RFS_WATCH_AUTO && rfs.o.coherence != RFS_COH_WATCH)
		return "option watcher needs coherence=watch";
	if (rfs.o.writeback && rfs.o.coherence != RFS_COH_EXCLUSIVE)
		fprintf(stderr, "rcufs: warning: writeback without "
				"coherence=exclusive: changes made directly "
				"in SOURCE may be overwritten by cached "
				"data\n");
	/* timeout-mode values, used if the watcher falls back */
	rfs.o.fallback_timeout = 1;
	if (!rfs.o.entry_set)
		rfs.o.entry_timeout = def;
	if (!rfs.o.attr_set)
		rfs.o.attr_timeout = def;
	if (!rfs.o.negative_set)
		rfs.o.negative_timeout = def;
	/*
	 * Without default_permissions the kernel checks no search permission
	 * when a path walk passes names it keeps; only a LOOKUP checks it
	 * (rfs_may_search).  So the kernel keeps no name and no missing name:
	 * a directory that loses its x bit would let callers through names
	 * seen before.  A timeout asked for explicitly is refused, not
	 * shortened behind the user's back.
	 */
	if (!rfs.o.default_permissions) {
		if ((rfs.o.entry_set && rfs.o.entry_timeout > 0) ||
		    (rfs.o.negative_set && rfs.o.negative_timeout > 0))
			return "no_default_permissions needs entry_timeout=0 "
			       "and negative_timeout=0 (the kernel checks no "
			       "search permission on names it keeps)";
		rfs.o.entry_timeout = rfs.o.negative_timeout = 0;
		rfs.o.entry_set = rfs.o.negative_set = true;
	}
	return NULL;
}

void rfs_timeout_mode(void)
{
	rfs_set_timeouts(
		rfs.o.entry_set ? rfs.o.entry_timeout : rfs.o.fallback_timeout,
		rfs.o.attr_set ? rfs.o.attr_timeout : rfs.o.fallback_timeout,
		rfs.o.negative_set ? rfs.o.negative_timeout
				   : rfs.o.fallback_timeout,
		true);
}

/*
 * The atime options and ro act on SOURCE through a private mount: a
 * detached clone of SOURCE's mount (and of the mounts below it) with
 * those mount attributes, which only this process can reach.  The kernel
 * then moves access times exactly as it would on a native mount with
 * these options (and never on a read-only one), whatever SOURCE's own
 * mount says.  Needs CAP_SYS_ADMIN (root).  Returns the clone's root fd,
 * or a negative errno.
 */

/* ---- modes ---- */

/*
 * Fall back to timeout mode: short timeouts from now on and everything
 * cached so far dropped, because something changed in SOURCE may go
 * unseen.  One warning naming the reason.  Caller holds wfs_lock.
 */
void degrade_locked(const char *why)
{
	if (degraded)
		return;
	degraded = true;
	rfs_timeout_mode();
	rfs_warn("%s; coherence falls back to timeouts (%gs): changes made "
		 "directly in SOURCE show after that long",
		 why, rfs_tmo(&rfs.o.entry_timeout));
	__atomic_store_n(&watch_stats.method, RFS_WATCH_NONE, __ATOMIC_RELAXED);
	if (started) {
		/* we may be inside a backend call: the watcher thread does
		 * the dcache-wide invalidation */
		uint64_t one = 1;

		__atomic_store_n(&pending_all, true, __ATOMIC_RELEASE);
		if (write(stop_fd, &one, sizeof(one)) != sizeof(one))
			rfs_error("cannot wake the watcher: %s",
				  strerror(errno));
	}
}

bool watch_inotify(void)
{
	return __atomic_load_n(&watch_stats.method, __ATOMIC_RELAXED) ==
	       RFS_WATCH_INOTIFY;
}

bool watch_active(void)
{
	return __atomic_load_n(&watch_stats.method, __ATOMIC_RELAXED) !=
	       RFS_WATCH_NONE;
}

static bool mode_may_cache(void)
{
	return rfs.o.coherence == RFS_COH_EXCLUSIVE ||
	       (rfs.o.coherence == RFS_COH_WATCH && watch_active());
}

bool rfs_kernel_may_cache(void)
{
	/* nobody drops what the kernel keeps of a remote filesystem inside
	 * SOURCE (coherence/remote.c) */
	return mode_may_cache() && rfs_remote_may_keep(0);
}

bool rfs_kernel_may_cache_ino(uint64_t ino)
{
	return mode_may_cache() && rfs_remote_may_keep(ino);
}

/* How long a kept listing may serve in timeout mode: as long as a name,
 * or a missing name, may (the shorter). */
static double listing_bound(void)
{
	double e = rfs_tmo(&rfs.o.entry_timeout);
	double n = rfs_tmo(&rfs.o.negative_timeout);

	return e < n ? e : n;
}

bool rfs_listings_bounded(void)
{
	/* a bound of a few margins at least: the drop comes no sooner than
	 * NOTIFY_LISTING_MARGIN after its listing's reply */
	return rfs.o.coherence == RFS_COH_TIMEOUT && !rfs.o.cache_off &&
	       listing_bound() >= 4 * NOTIFY_LISTING_MARGIN / 1e9;
}

void rfs_listing_read(uint64_t ino, uint64_t read_start, bool fill_start)
{
	/* the mode's bound, or a remote filesystem's inside SOURCE if
	 * shorter: one drop, at the shorter */
	uint64_t b = rfs_remote_listing_bound(ino);

	/* timeout mode, or watch mode fallen back to it since INIT chose
	 * no_opendir (the listing's mtime check alone would do on a local
	 * filesystem; the drop does not depend on it) */
	if (rfs.o.coherence == RFS_COH_TIMEOUT ||
	    (rfs.o.coherence == RFS_COH_WATCH && !watch_active())) {
		uint64_t t = rfs_ttl_ns(listing_bound());

		if (t < b)
			b = t;
	}
	if (b != DC_TTL_FOREVER)
		notify_listing_expiry(ino, read_start, b, fill_start);
}

void rfs_watch_emit(struct rfs_emit *e)
{
	static const char *const modes[] = {"watch", "timeout", "exclusive",
					    "strict"};
	static const char *const methods[] = {"auto", "fanotify", "inotify",
					      "none (timeouts)"};
	enum rfs_watcher m =
		__atomic_load_n(&watch_stats.method, __ATOMIC_RELAXED);
	uint64_t overflows, notifies, errors;
	unsigned queued, listings;

	notify_counts(&overflows, &notifies, &errors);
#define LD(f) __atomic_load_n(&watch_stats.f, __ATOMIC_RELAXED)
	rfs_emit_str(e, "mode", modes[rfs.o.coherence]);
	rfs_emit_str(e, "watcher",
		     rfs.o.coherence == RFS_COH_WATCH ? methods[m]
						      : "none (by mode)");
	rfs_emit_double(e, "entry_timeout_s", rfs_tmo(&rfs.o.entry_timeout));
	rfs_emit_double(e, "attr_timeout_s", rfs_tmo(&rfs.o.attr_timeout));
	rfs_emit_double(e, "negative_timeout_s",
			rfs_tmo(&rfs.o.negative_timeout));
	rfs_emit_u64(e, "events", LD(events));
	rfs_emit_u64(e, "events_own", LD(self));
	rfs_emit_u64(e, "events_uncached", LD(uncached));
	rfs_emit_u64(e, "names_changed", LD(dirent));
	rfs_emit_u64(e, "objects_changed", LD(attr));
	rfs_emit_u64(e, "overflows", LD(overflows) + overflows);
	rfs_emit_u64(e, "handles_opened", LD(handle_opens));
	rfs_emit_u64(e, "kernel_notifications", notifies);
	rfs_emit_u64(e, "kernel_notification_errors", errors);
	rfs_emit_u64(e, "inotify_watches", LD(watches));
	notify_queued(&queued, &listings);
	rfs_emit_u64(e, "queued_notifications", queued);
	/* no_opendir in timeout mode, or a remote filesystem inside
	 * SOURCE: kept listings dropped at the bound (rfs_listing_read) */
	rfs_emit_u64(e, "listing_drops", notify_listing_drops());
	rfs_emit_u64(e, "listing_drops_queued", listings);
	rfs_emit_u64(e, "filesystems_watched", fan_filesystems());
#undef LD
}
