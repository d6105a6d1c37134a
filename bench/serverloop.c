// SPDX-License-Identifier: GPL-2.0
/*
 * serverloop: a long-lived server-like request loop for make bench.  Each
 * request allocates a request buffer and a response buffer; a response
 * comes from an LRU cache of computed values, which allocates an entry, its
 * key and its value on a miss and frees the oldest entry when full.  So
 * most blocks die at once and some (the cache) live a long while, as in a
 * real server.  A fixed pseudo-random sequence makes every run the same.
 *
 *	serverloop [-n REQUESTS] [-c CACHE] [-l LEAKS]
 *
 *   -n  requests to serve (default 200000)
 *   -c  cache entries (default 4096; keys are drawn from twice as many)
 *   -l  leak LEAKS sessions of 100 bytes in all from leak_session(), spread
 *       over the run (default 0)
 *
 * Prints the elapsed seconds on stderr; bench/benchtime.c (linked in) also
 * writes the time to $BENCH_TIME_FILE, and holds the start for a tracer
 * to attach with BENCH_HOLD=1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define SESSION_SIZE 100

struct entry {
	struct entry *hnext;		/* hash chain */
	struct entry *prev, *next;	/* LRU list, most recent first */
	char *key;
	char *value;
	size_t len;
};

struct cache {
	struct entry **buckets;
	size_t nbuckets, count, capacity;
	struct entry head;		/* LRU sentinel */
	unsigned long hits, misses;
};

void *volatile sink;
static unsigned long rng = 0x2545f4914f6cdd1dUL;

static unsigned long next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned long hash(const char *s)
{
	unsigned long h = 1469598103934665603UL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211UL;
	return h;
}

static void lru_unlink(struct entry *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
}

static void lru_push(struct cache *c, struct entry *e)
{
	e->next = c->head.next;
	e->prev = &c->head;
	c->head.next->prev = e;
	c->head.next = e;
}

static NOINLINE void evict(struct cache *c)
{
	struct entry *e = c->head.prev, **pp;

	lru_unlink(e);
	for (pp = &c->buckets[hash(e->key) % c->nbuckets]; *pp != e;
	     pp = &(*pp)->hnext)
		;
	*pp = e->hnext;
	free(e->key);
	free(e->value);
	free(e);
	c->count--;
}

/* The "expensive" computation a cache saves: fill LEN bytes from KEY. */
static NOINLINE char *compute(const char *key, size_t len)
{
	char *v = malloc(len);
	unsigned long h = hash(key);

	if (!v)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		h = h * 6364136223846793005UL + 1442695040888963407UL;
		v[i] = 'a' + (h >> 59);
	}
	return v;
}

static NOINLINE struct entry *lookup(struct cache *c, const char *key)
{
	unsigned long b = hash(key) % c->nbuckets;
	struct entry *e;

	for (e = c->buckets[b]; e; e = e->hnext)
		if (!strcmp(e->key, key)) {
			c->hits++;
			lru_unlink(e);
			lru_push(c, e);
			return e;
		}
	c->misses++;
	if (c->count == c->capacity)
		evict(c);
	e = malloc(sizeof(*e));
	if (!e)
		return NULL;
	e->key = strdup(key);
	e->len = 128 + hash(key) % 3968;
	e->value = compute(key, e->len);
	e->hnext = c->buckets[b];
	c->buckets[b] = e;
	lru_push(c, e);
	c->count++;
	return e;
}

static NOINLINE void leak_session(unsigned long id)
{
	char *s = malloc(SESSION_SIZE);

	if (s)
		snprintf(s, SESSION_SIZE, "session %lu", id);
	sink = s;
}

/* One request: parse it, look its key up, build the response, "send" it. */
static NOINLINE unsigned long serve(struct cache *c, unsigned long id,
				    unsigned long keys)
{
	size_t rlen = 64 + next() % 1985, n;
	char *req = malloc(rlen), *resp, key[32];
	unsigned long sum = 0;
	struct entry *e;

	if (!req)
		return 0;
	n = snprintf(req, rlen, "GET /item/%lu HTTP/1.1\r\nX-Id: %lu\r\n\r\n",
		     next() % keys, id);
	if (n < rlen)
		memset(req + n, 'x', rlen - n - 1);
	req[rlen - 1] = 0;
	if (sscanf(req, "GET /item/%31[0-9]", key) != 1) {
		free(req);
		return 0;
	}
	e = lookup(c, key);
	if (e && e->value) {
		resp = malloc(e->len + 128);
		if (resp) {
			n = snprintf(resp, 128, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
				     e->len);
			memcpy(resp + n, e->value, e->len);
			for (size_t i = 0; i < n + e->len; i += 64)
				sum += (unsigned char)resp[i];
			free(resp);
		}
	}
	free(req);
	return sum;
}

int main(int argc, char **argv)
{
	long requests = 200000, capacity = 4096, leaks = 0, every;
	struct cache c = { 0 };
	struct timespec a, b;
	unsigned long sum = 0;
	int opt;

	while ((opt = getopt(argc, argv, "n:c:l:h")) != -1) {
		switch (opt) {
		case 'n':
			requests = atol(optarg);
			break;
		case 'c':
			capacity = atol(optarg);
			break;
		case 'l':
			leaks = atol(optarg);
			break;
		default:
			fprintf(stderr,
				"usage: serverloop [-n REQUESTS] [-c CACHE] [-l LEAKS]\n");
			return 2;
		}
	}
	if (requests <= 0 || capacity <= 0 || leaks < 0 || optind < argc) {
		fprintf(stderr, "serverloop: bad arguments\n");
		return 2;
	}
	every = leaks ? (requests / leaks ? requests / leaks : 1) : 0;
	c.capacity = capacity;
	c.nbuckets = capacity * 2 + 1;
	c.buckets = calloc(c.nbuckets, sizeof(*c.buckets));
	if (!c.buckets)
		return 1;
	c.head.next = c.head.prev = &c.head;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0, leaked = 0; i < requests; i++) {
		sum += serve(&c, i, 2 * capacity);
		if (every && (i + 1) % every == 0 && leaked < leaks) {
			leak_session(i);
			leaked++;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	while (c.count)
		evict(&c);
	free(c.buckets);
	fprintf(stderr,
		"serverloop: %ld requests, %lu hits, %lu misses, %ld leaks, checksum %lu: %.6f s\n",
		requests, c.hits, c.misses, leaks, sum,
		(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
