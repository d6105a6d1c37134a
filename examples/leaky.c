// SPDX-License-Identifier: GPL-2.0
/*
 * A small program with leaks, for "make demo": a request handler that
 * forgets to free a buffer on its error path, and a cache that only grows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct request {
	char *body;
	size_t len;
};

char *cache[64];		/* global: the compiler must keep its stores */

__attribute__((noinline)) static int handle_request(int i)
{
	struct request *req = malloc(sizeof(*req));

	req->len = 256;
	req->body = malloc(req->len);
	snprintf(req->body, req->len, "request %d", i);
	if (i % 10 == 0)
		return -1;		/* leaks req and req->body */
	free(req->body);
	free(req);
	return 0;
}

__attribute__((noinline)) static void remember(int i)
{
	char name[32];

	snprintf(name, sizeof(name), "entry-%d", i);
	cache[i % 64] = strdup(name);	/* overwrites without freeing */
}

int main(void)
{
	int errors = 0;

	for (int i = 0; i < 200; i++) {
		errors += handle_request(i) < 0;
		remember(i);
	}
	printf("handled 200 requests, %d errors, last cached: %s\n", errors,
	       cache[199 % 64]);
	return 0;
}
