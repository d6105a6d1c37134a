/* SPDX-License-Identifier: GPL-2.0 */
/* Small helpers every part of memleak uses: messages, allocation, parsing. */
#ifndef MEMLEAK_UTIL_H
#define MEMLEAK_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

extern const char *ml_progname;	/* "memleak" or "memleak top", for messages */
extern int ml_verbose;

void ml_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ml_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ml_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ml_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Parse a whole string as an unsigned number (decimal, 0x hex; with
 * @suffixes also k/m/g binary multipliers).  False on junk, overflow or
 * a value outside [min, max].
 */
bool ml_parse_u64(const char *s, uint64_t min, uint64_t max, bool suffixes,
		  uint64_t *out);

/* Monotonic clock in ns: the clock bpf_ktime_get_ns() uses. */
uint64_t ml_now_ns(void);

/* Entry @type (AT_ENTRY, AT_BASE, ...) of process @pid's auxiliary vector, 0 if none. */
uint64_t ml_proc_auxv(int pid, uint64_t type);

/* True when @pid names a live process. */
bool ml_pid_alive(int pid);

#endif /* MEMLEAK_UTIL_H */
