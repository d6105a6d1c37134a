// SPDX-License-Identifier: GPL-2.0
/*
 * The unwinder of bpf/unwind.bpf.h, in user space, over the same rows: for
 * event sources that capture registers and stack outside BPF (a preload
 * library), and to test the tables without BPF.  Keep the two in step.
 */
#include "unwind/unwind.h"

int ml_unwind_walk(const struct ml_unwind_mem *m, uint64_t ip, uint64_t sp,
		   uint64_t bp, uint64_t *ips, int max, bool *complete)
{
	bool bp_valid = true;
	int depth = 0;

	*complete = false;
	while (depth < max) {
		const struct ml_unwind_row *rows, *row = NULL;
		uint64_t cfa, ra, off;
		bool table;
		size_t n;

		ips[depth++] = ip;
		/* Return addresses: the call is the byte before. */
		table = m->rows(m->ctx, ip - 1, &rows, &n, &off) && n;
		if (table)
			row = ml_unwind_find(rows, n, off);
		if (!row || ML_ROW_CFA(row) == ML_CFA_NONE) {
			/*
			 * No unwind info: rbp is a frame pointer; 0 marks the
			 * outermost frame, unless the module has no table at
			 * all (rbp may then be anything).
			 */
			if (!bp_valid || !bp) {
				*complete = bp_valid && table;
				return depth;
			}
			cfa = bp + 16;
			if (cfa <= sp || !m->read(m->ctx, bp, &bp))
				return depth;
		} else {
			switch (ML_ROW_CFA(row)) {
			case ML_CFA_RSP:
				cfa = sp + (int64_t)row->cfa_off * 8;
				break;
			case ML_CFA_RBP:
				if (!bp_valid)
					return depth;
				cfa = bp + (int64_t)row->cfa_off * 8;
				break;
			case ML_CFA_PLT:
				cfa = sp + 8 + ((ip & 15) >= (uint64_t)row->cfa_off ? 8 : 0);
				break;
			case ML_CFA_END:
				*complete = true;
				return depth;
			default:
				return depth;
			}
			if (cfa <= sp)
				return depth;
			if (ML_ROW_RBP(row) == ML_RBP_CFA) {
				if (!m->read(m->ctx, cfa + (int64_t)row->rbp_off * 8, &bp))
					return depth;
			} else if (ML_ROW_RBP(row) == ML_RBP_UNDEF) {
				bp_valid = false;
			}
		}
		if (!m->read(m->ctx, cfa - 8, &ra))
			return depth;
		if (!ra) {
			*complete = true;
			return depth;
		}
		ip = ra;
		sp = cfa;
	}
	return depth;
}
