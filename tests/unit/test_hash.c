// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_hash.c - a path component's length and hash in one pass
 * (dc_comp_hash, cache/dentry_i.h) against the name hash computed from a
 * known length (dc_name_hash): every length from 1 to 300, ended by NUL
 * or by '/', at every offset from the end of a page that is followed by
 * an inaccessible one (a whole-word load that crossed into it would
 * fault), and bytes of every value but NUL and '/' (0x80 and above
 * included: the has-zero test must not flag them).
 */
#include <sys/mman.h>
#include <unistd.h>

#include "dcache_i.h"
#include "tap.h"

#define MAXLEN 300

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *map, *end;
	unsigned long bad_len = 0, bad_hash = 0, cases = 0, distinct = 0;
	uint32_t prev = 0;
	size_t len, got, i;
	int term;

	map = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED ||
	    mprotect(map + page, (size_t)page, PROT_NONE)) {
		ok(0, "mmap a page and a guard page");
		return tap_done();
	}
	end = map + page; /* the first inaccessible byte */
	for (len = 1; len <= MAXLEN; len++)
		for (term = 0; term < 2; term++)
			for (i = 0; i < 16; i++) {
				/* name, terminator, then i more bytes */
				char *s = end - len - 1 - i;
				uint32_t h;

				for (size_t k = 0; k < len; k++) {
					unsigned char c =
						(unsigned char)(k * 37 + len +
								1);

					s[k] = (char)(c == '/' || !c ? 'x' : c);
				}
				s[len] = term ? '/' : '\0';
				/* after the end: bytes that must not count */
				for (size_t k = 0; k < i; k++)
					s[len + 1 + k] = "y/\0\x80\xff."[k % 6];
				h = dc_comp_hash(s, &got);
				cases++;
				bad_len += got != len;
				bad_hash += h != dc_name_hash(s, len);
				distinct += h != prev;
				prev = h;
			}
	ok(bad_len == 0,
	   "length of %lu components (NUL or '/' ended, up to "
	   "the guard page)",
	   cases);
	ok(bad_hash == 0,
	   "dc_comp_hash == dc_name_hash in all %lu (%lu "
	   "differ)",
	   cases, bad_hash);
	/* one name per length: the hash changed at each new length */
	ok(distinct == MAXLEN, "%d names, %lu distinct hashes in a row", MAXLEN,
	   distinct);
	ok(dc_name_hash("ab", 2) != dc_name_hash("ab\0", 3),
	   "the length is part of the hash (\"ab\" vs \"ab\\0\")");
	munmap(map, 2 * (size_t)page);
	return tap_done();
}
