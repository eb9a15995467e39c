/* SPDX-License-Identifier: MIT */
/*
 * fs/ops/plusfill.c - the READDIRPLUS fill predictor (see plusfill.h).
 *
 * Evidence.  A listing that skipped names takes a slot of a small table,
 * chosen by its directory's node id: {dir, skipped, looked}.  A LOOKUP of
 * a non-directory in a directory that holds a slot counts in `looked`.
 * When a quarter of the skipped names have been looked up, the score
 * jumps to its maximum at once: a walk (ls -lR, find -type f -size, a
 * stat storm over listed names) is seen within its first directory.
 * The score only falls when a slot is reused by a later listing: the old
 * slot's share looked/skipped enters the score as a moving average (1/4
 * weight), so skipping stops being the choice only after listings whose
 * names nobody looked up.
 *
 * Thresholds.  Filling starts at a score of 256 (a quarter).  With the
 * score high, one listing in PF_PROBE still skips, so the evidence keeps
 * coming: at most 1/32 of a walk's listings pay the lookups they skipped.
 */
#include "ops/plusfill.h"
#include "stats/stats.h"

#include <stdatomic.h>

#define PF_SLOTS 256	     /* recent listings remembered */
#define PF_PROBE 32	     /* one listing in this many skips anyway */
#define PF_MAX 1024	     /* the score's scale */
#define PF_FILL (PF_MAX / 4) /* fill at or above this score */

/* A listing that skipped names; every field a relaxed atomic. */
struct pf_slot {
	_Atomic uint64_t dir;
	_Atomic uint32_t skipped;
	_Atomic uint32_t looked;
};

static struct pf_slot pf_slots[PF_SLOTS];
static _Atomic uint32_t pf_score;    /* 0..PF_MAX, relaxed */
static _Atomic uint32_t pf_listings; /* READDIRPLUS calls, for the probes */
static _Atomic uint64_t pf_nfilled, pf_nskipped;
static _Atomic uint32_t pf_xattr_miss; /* pf_listings at the last miss + 1 */

#define PF_XATTR_WINDOW 64 /* listings an xattr miss keeps prefetching */

static struct pf_slot *slot_of(uint64_t dir)
{
	/* node ids are often consecutive: mix before taking the low bits */
	dir *= 0x9e3779b97f4a7c15ull;
	return &pf_slots[dir >> 56];
}

bool plusfill_want(uint64_t dir)
{
	uint32_t n = atomic_fetch_add_explicit(&pf_listings, 1,
					       memory_order_relaxed);
	bool fill;

	(void)dir;
	fill = atomic_load_explicit(&pf_score, memory_order_relaxed) >=
		       PF_FILL &&
	       n % PF_PROBE != 0;
	atomic_fetch_add_explicit(fill ? &pf_nfilled : &pf_nskipped, 1,
				  memory_order_relaxed);
	return fill;
}

void plusfill_listed(uint64_t dir, unsigned skipped)
{
	struct pf_slot *s = slot_of(dir);
	uint32_t old_skipped, old_looked, share, score;

	if (!skipped)
		return;
	old_skipped = atomic_load_explicit(&s->skipped, memory_order_relaxed);
	old_looked = atomic_load_explicit(&s->looked, memory_order_relaxed);
	if (old_skipped) {
		/* the old listing's evidence enters the moving average */
		share = old_looked >= old_skipped
				? PF_MAX
				: (uint32_t)((uint64_t)old_looked * PF_MAX /
					     old_skipped);
		score = atomic_load_explicit(&pf_score, memory_order_relaxed);
		score = (score * 3 + share) / 4;
		atomic_store_explicit(&pf_score, score, memory_order_relaxed);
	}
	/* dir last: a lookup that sees the new dir sees fresh counts, or
	 * (racing) counts one lookup into the old ones: evidence, no harm */
	atomic_store_explicit(&s->skipped, skipped, memory_order_relaxed);
	atomic_store_explicit(&s->looked, 0, memory_order_relaxed);
	atomic_store_explicit(&s->dir, dir, memory_order_relaxed);
}

void plusfill_lookup(uint64_t parent)
{
	struct pf_slot *s = slot_of(parent);
	uint32_t looked, skipped;

	if (atomic_load_explicit(&s->dir, memory_order_relaxed) != parent)
		return;
	skipped = atomic_load_explicit(&s->skipped, memory_order_relaxed);
	looked =
		atomic_fetch_add_explicit(&s->looked, 1, memory_order_relaxed) +
		1;
	if (skipped && looked * 4 >= skipped)
		atomic_store_explicit(&pf_score, PF_MAX, memory_order_relaxed);
}

void plusfill_emit(struct rfs_emit *e)
{
	rfs_emit_begin(e, "readdirplus");
	rfs_emit_u64(e, "listings_filled",
		     atomic_load_explicit(&pf_nfilled, memory_order_relaxed));
	rfs_emit_u64(e, "listings_skipped",
		     atomic_load_explicit(&pf_nskipped, memory_order_relaxed));
	rfs_emit_u64(e, "fill_score",
		     atomic_load_explicit(&pf_score, memory_order_relaxed));
	rfs_emit_end(e);
}

void plusfill_xattr_miss(void)
{
	atomic_store_explicit(
		&pf_xattr_miss,
		atomic_load_explicit(&pf_listings, memory_order_relaxed) + 1,
		memory_order_relaxed);
}

bool plusfill_want_xattr(void)
{
	uint32_t miss =
		atomic_load_explicit(&pf_xattr_miss, memory_order_relaxed);

	/* unsigned difference: wraps correctly */
	return miss &&
	       atomic_load_explicit(&pf_listings, memory_order_relaxed) + 1 -
			       miss <
		       PF_XATTR_WINDOW;
}
