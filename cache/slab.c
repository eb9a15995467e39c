/* SPDX-License-Identifier: MIT */
/*
 * cache/slab.c - dentries and inodes: fixed-size, cache-line-aligned
 * objects carved from 2 MiB chunks that the kernel may back with huge
 * pages.
 *
 * Why not aligned_alloc: two costs, both measured on the bench tree
 * (111,111 entries) on this machine.
 *  - Memory: glibc's aligned_alloc(64, n) carves each object out of a
 *    larger free chunk and keeps the leftovers; 111,111 dentries (192
 *    bytes) and inodes (384) took 91.5 MB of RSS with it, 70.7 MB with
 *    plain malloc of the same sizes (/tmp/al.c), about 190 bytes per
 *    entry of waste.  Here an object costs exactly its size.
 *  - Page faults: the first touch of a 4 KiB page cost 25-53 us on this
 *    virtual machine (shadow paging), 2.8-11 us per 4 KiB inside a huge
 *    page (/tmp/thp.c: 256 MiB touched with and without MADV_HUGEPAGE),
 *    and the heap growth of a cold walk showed as 17-23% of the daemon's
 *    profile (sysmalloc's first store into new memory, perf).  A chunk is
 *    2 MiB aligned and advised MADV_HUGEPAGE, so a huge page backs it
 *    where the kernel allows (transparent_hugepage "always" or
 *    "madvise"); elsewhere it is ordinary memory.
 *
 * The next chunk is faulted in ahead, off the request path: once the
 * current chunk is half used, dc_slab_alloc asks the grower thread
 * (tables.c), which maps a chunk and touches it (s->spare); the request
 * that exhausts the current chunk takes the spare.  Zeroing a fresh huge
 * page was 10% of the daemon's samples in a cold walk of the bench tree
 * (perf, clear_page_erms under dc_slab_alloc), paid by whichever request
 * crossed into a new chunk.  It costs at most one unused chunk per slab
 * (4 MiB for the two).  A request that finds no spare yet maps a chunk
 * itself, as before.
 *
 * Freed objects go on a free list and are reused; chunks are returned to
 * the kernel only by dc_slab_destroy (as glibc rarely returns a heap's
 * middle either).
 *
 * Under AddressSanitizer or ThreadSanitizer objects come from
 * aligned_alloc and go back with free, so that the sanitizers keep
 * checking every object's lifetime (a use after an RCU-deferred free is
 * exactly what they must catch).
 *
 * Concurrency: s->lock protects every field of struct dc_slab but size
 * and kick (immutable).  dc_slab_alloc and dc_slab_free may be called
 * wherever malloc may: from request threads on a cache miss (never on a
 * hit), from call_rcu callbacks, at teardown.  Both take s->lock for a
 * few instructions; only a new chunk's mmap (when no spare is ready)
 * happens under it.  dc_slab_fill_spare maps and touches its chunk
 * without the lock.
 */
#include "dcache_i.h"

#include <sys/mman.h>

#define SLAB_CHUNK (2ul << 20)

/* The first cache line of every chunk: the chunk list. */
struct slab_chunk {
	struct slab_chunk *next;
};

void dc_slab_init(struct dc_slab *s, size_t size, sem_t *kick)
{
	s->size = (size + DC_CACHELINE - 1) & ~(size_t)(DC_CACHELINE - 1);
	s->free_list = NULL;
	s->next = s->end = NULL;
	s->chunks = NULL;
	s->spare = NULL;
	s->want_spare = false;
	s->kick = kick;
	pthread_mutex_init(&s->lock, NULL); /* cannot fail (no attributes) */
}

/* A new 2 MiB-aligned chunk, or NULL (errno set).  Any context where
 * malloc may be called; touches no slab state. */
static char *chunk_new(void)
{
	size_t span = 2 * SLAB_CHUNK;
	char *p, *start;
	size_t head;

	p = mmap(NULL, span, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	start = (char *)(((uintptr_t)p + SLAB_CHUNK - 1) & ~(SLAB_CHUNK - 1));
	head = (size_t)(start - p);
	/* trim to the aligned 2 MiB; munmap of a part cannot fail here */
	if (head)
		munmap(p, head);
	munmap(start + SLAB_CHUNK, span - head - SLAB_CHUNK);
	/* a hint: EINVAL where transparent huge pages are compiled out */
	(void)madvise(start, SLAB_CHUNK, MADV_HUGEPAGE);
	return start;
}

void *dc_slab_alloc(struct dc_slab *s)
{
	struct slab_chunk *c;
	bool kick = false;
	void *obj;

	if (DC_SLAB_PASSTHROUGH)
		return aligned_alloc(DC_CACHELINE, s->size);
	pthread_mutex_lock(&s->lock);
	obj = s->free_list;
	if (obj) {
		s->free_list = *(void **)obj;
	} else {
		if ((size_t)(s->end - s->next) < s->size) {
			c = s->spare ? s->spare : chunk_new();
			if (!c) {
				pthread_mutex_unlock(&s->lock);
				errno = ENOMEM;
				return NULL;
			}
			s->spare = NULL;
			s->want_spare = false;
			c->next = s->chunks;
			s->chunks = c;
			s->next = (char *)c + DC_CACHELINE;
			s->end = (char *)c + SLAB_CHUNK;
		}
		obj = s->next;
		s->next += s->size;
		/* half of the chunk used: have the next one ready */
		if ((size_t)(s->end - s->next) < SLAB_CHUNK / 2 &&
		    !s->want_spare && s->kick) {
			s->want_spare = true;
			kick = true;
		}
	}
	pthread_mutex_unlock(&s->lock);
	/* fails only with EOVERFLOW: the grower has plenty to wake for */
	if (kick)
		sem_post(s->kick);
	return obj;
}

void dc_slab_fill_spare(struct dc_slab *s)
{
	size_t off;
	bool want;
	char *c;

	if (DC_SLAB_PASSTHROUGH)
		return;
	pthread_mutex_lock(&s->lock);
	want = s->want_spare && !s->spare;
	pthread_mutex_unlock(&s->lock);
	if (!want)
		return;
	c = chunk_new();
	if (c) {
		/* fault it in now: one huge page, or one page per 4 KiB
		 * where the kernel gives no huge page */
		for (off = 0; off < SLAB_CHUNK; off += 4096)
			((volatile char *)c)[off] = 0;
	}
	pthread_mutex_lock(&s->lock);
	/* only this thread sets spare; want_spare is cleared when a new
	 * chunk is taken: unless the request went meanwhile, keep it */
	if (c && s->want_spare) {
		s->spare = c;
		c = NULL;
	} else {
		/* failed (or no longer wanted): the next allocation asks
		 * again, so under ENOMEM each one retries the mmap here */
		s->want_spare = false;
	}
	pthread_mutex_unlock(&s->lock);
	if (c)
		munmap(c, SLAB_CHUNK);
}

void dc_slab_free(struct dc_slab *s, void *obj)
{
	if (DC_SLAB_PASSTHROUGH) {
		free(obj);
		return;
	}
	if (!obj)
		return;
	pthread_mutex_lock(&s->lock);
	*(void **)obj = s->free_list;
	s->free_list = obj;
	pthread_mutex_unlock(&s->lock);
}

/* Last: every object is free or will never be used again. */
void dc_slab_destroy(struct dc_slab *s)
{
	struct slab_chunk *c = s->chunks, *next;

	for (; c; c = next) {
		next = c->next;
		munmap(c, SLAB_CHUNK);
	}
	if (s->spare)
		munmap(s->spare, SLAB_CHUNK);
	s->spare = NULL;
	s->chunks = NULL;
	s->free_list = NULL;
	s->next = s->end = NULL;
	pthread_mutex_destroy(&s->lock);
}
