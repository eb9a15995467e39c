/* SPDX-License-Identifier: MIT */
/*
 * fs/stats/emit.c - rendering the sections of rcufs stats: one set of
 * calls writes either the text or the JSON form (stats.h).  Only the
 * statistics thread renders, into a buffer of its own: no locking.
 */
#include "stats/stats_i.h"

#include <stdio.h>
#include <string.h>

#define TEXT_KEY_WIDTH 28
#define TEXT_ROW_WIDTH 14
#define TEXT_COL_WIDTH 9

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* JSON: the separator, indentation and key before a member. */
static void json_key(struct rfs_emit *e, const char *key)
{
	if (!e->first[e->depth])
		fputc(',', e->f);
	e->first[e->depth] = false;
	fprintf(e->f, "\n%*s", 2 * (e->depth + 1), "");
	json_str(e->f, key);
	fputs(": ", e->f);
}

/* Text: start a "key value" line or a table cell; returns false when the
 * value goes in a table cell (no key printed). */
static bool text_key(struct rfs_emit *e, const char *key)
{
	int ind = 2 * e->depth;

	if (e->in_row)
		return false;
	fprintf(e->f, "%*s%-*s ", ind, "", TEXT_KEY_WIDTH - ind, key);
	return true;
}

static void text_value(struct rfs_emit *e, const char *key, const char *v)
{
	if (text_key(e, key))
		fprintf(e->f, "%s\n", v);
	else
		fprintf(e->f, " %*s", TEXT_COL_WIDTH, v);
}

void rfs_emit_begin(struct rfs_emit *e, const char *key)
{
	if (e->depth >= EMIT_DEPTH)
		return;
	if (e->json) {
		json_key(e, key);
		fputc('{', e->f);
	} else if (e->table_depth && e->depth == e->table_depth) {
		/* a row of the table */
		fprintf(e->f, "%*s%-*s", 2 * e->depth, "", TEXT_ROW_WIDTH, key);
		e->in_row = true;
	} else if (e->depth == 0) {
		fprintf(e->f, "%s:\n", key);
	} else {
		fprintf(e->f, "%*s%s:\n", 2 * e->depth, "", key);
	}
	e->depth++;
	e->first[e->depth] = true;
}

void rfs_emit_end(struct rfs_emit *e)
{
	if (e->depth <= 0)
		return;
	e->depth--;
	if (e->json) {
		if (!e->first[e->depth + 1])
			fprintf(e->f, "\n%*s", 2 * (e->depth + 1), "");
		fputc('}', e->f);
	} else if (e->in_row && e->depth == e->table_depth) {
		fputc('\n', e->f);
		e->in_row = false;
	} else if (e->depth == 0) {
		fputc('\n', e->f);
	}
}

void rfs_emit_table_begin(struct rfs_emit *e, const char *key,
			  const char *const *cols, unsigned ncols)
{
	unsigned i;

	rfs_emit_begin(e, key);
	if (e->json)
		return;
	e->table_depth = e->depth;
	fprintf(e->f, "%*s%-*s", 2 * e->depth, "", TEXT_ROW_WIDTH, "");
	for (i = 0; i < ncols; i++)
		fprintf(e->f, " %*s", TEXT_COL_WIDTH, cols[i]);
	fputc('\n', e->f);
}

void rfs_emit_table_end(struct rfs_emit *e)
{
	e->table_depth = 0;
	rfs_emit_end(e);
}

void rfs_emit_u64(struct rfs_emit *e, const char *key, uint64_t v)
{
	char buf[32];

	if (e->json) {
		json_key(e, key);
		fprintf(e->f, "%llu", (unsigned long long)v);
		return;
	}
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	text_value(e, key, buf);
}

void rfs_emit_str(struct rfs_emit *e, const char *key, const char *v)
{
	if (e->json) {
		json_key(e, key);
		json_str(e->f, v);
		return;
	}
	text_value(e, key, v);
}

void rfs_emit_double(struct rfs_emit *e, const char *key, double v)
{
	char buf[32];

	if (e->json) {
		json_key(e, key);
		fprintf(e->f, "%.3f", v);
		return;
	}
	snprintf(buf, sizeof(buf), "%.1f", v);
	text_value(e, key, buf);
}

void rfs_emit_ns(struct rfs_emit *e, const char *key, uint64_t ns)
{
	char buf[32];

	if (e->json) {
		json_key(e, key);
		fprintf(e->f, "%llu", (unsigned long long)ns);
		return;
	}
	if (ns < 1000)
		snprintf(buf, sizeof(buf), "%lluns", (unsigned long long)ns);
	else if (ns < 1000000)
		snprintf(buf, sizeof(buf), "%.1fus", ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, sizeof(buf), "%.1fms", ns / 1e6);
	else
		snprintf(buf, sizeof(buf), "%.2fs", ns / 1e9);
	text_value(e, key, buf);
}

void rfs_emit_bytes(struct rfs_emit *e, const char *key, uint64_t v)
{
	char buf[32];

	if (e->json) {
		json_key(e, key);
		fprintf(e->f, "%llu", (unsigned long long)v);
		return;
	}
	if (v < 1024)
		snprintf(buf, sizeof(buf), "%llu B", (unsigned long long)v);
	else if (v < 1024 * 1024)
		snprintf(buf, sizeof(buf), "%.1f KiB", v / 1024.0);
	else if (v < 1024ull * 1024 * 1024)
		snprintf(buf, sizeof(buf), "%.1f MiB", v / 1048576.0);
	else
		snprintf(buf, sizeof(buf), "%.2f GiB", v / 1073741824.0);
	text_value(e, key, buf);
}

void rfs_emit_null(struct rfs_emit *e, const char *key)
{
	if (e->json) {
		json_key(e, key);
		fputs("null", e->f);
		return;
	}
	text_value(e, key, "-");
}
