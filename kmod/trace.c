// SPDX-License-Identifier: GPL-2.0
/*
 * The tracepoints' one instance (CREATE_TRACE_POINTS), and the form keys
 * take in the trace buffer.
 */
#include "stm.h"

#define CREATE_TRACE_POINTS
#include "stm_trace.h"

/*
 * Write @kr's key to @dst (STM_TRACE_KEY bytes) for a trace: printable
 * ASCII as is, '"' and '\' backslashed, any other byte as \xNN; a key
 * that does not fit ends in "...".  NULL writes "".
 */
void stm_trace_key(char *dst, const struct stm_kref *kr)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, cut = 0;
	u32 i, len = kr ? kr->len : 0;

	for (i = 0; i < len; i++) {
		u8 ch = kr->p[i];
		bool esc = ch == '"' || ch == '\\';
		bool raw = ch >= 0x20 && ch <= 0x7e;
		size_t need = esc ? 2 : raw ? 1 : 4;

		if (o + need > STM_TRACE_KEY - 1)
			break;
		if (esc) {
			dst[o++] = '\\';
			dst[o++] = ch;
		} else if (raw) {
			dst[o++] = ch;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[ch >> 4];
			dst[o++] = hex[ch & 15];
		}
		/* Where "..." can still follow, should the key not fit. */
		if (o <= STM_TRACE_KEY - 4)
			cut = o;
	}
	if (i < len) {
		memcpy(dst + cut, "...", 3);
		o = cut + 3;
	}
	dst[o] = '\0';
}
