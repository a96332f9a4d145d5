// SPDX-License-Identifier: MIT
/*
 * util.c - option parsing, errors and exit codes, and printing of keys
 * and values for stmctl's verbs.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "stmctl.h"

const struct verb *find_verb(const char *name)
{
	for (const struct verb *v = verbs; v->name; v++)
		if (strcmp(v->name, name) == 0)
			return v;
	return NULL;
}

void verb_help(FILE *f, const struct verb *v)
{
	const struct usage *u = v->usage;

	fprintf(f, "usage: stmctl [--nonblock] %s %s\n\n%s.\n", v->name, u->synopsis,
		v->help);
	if (u->opts && u->opts[0].lng) {
		fprintf(f, "\noptions:\n");
		for (const struct opt *o = u->opts; o->lng; o++) {
			char left[64];

			if (o->shrt)
				snprintf(left, sizeof(left), "-%c, --%s%s%s", o->shrt, o->lng,
					 o->has_arg ? " " : "", o->has_arg ? o->argname : "");
			else
				snprintf(left, sizeof(left), "    --%s%s%s", o->lng,
					 o->has_arg ? " " : "", o->has_arg ? o->argname : "");
			fprintf(f, "  %-24s %s\n", left, o->help);
		}
	}
	fprintf(f, "  %-24s %s\n", "-h, --help", "show this help");
	if (u->details)
		fprintf(f, "\n%s", u->details);
}

static int find_opt(const struct opt *opts, const char *lng, size_t len, char shrt)
{
	for (int i = 0; opts && opts[i].lng; i++) {
		if (shrt && opts[i].shrt == shrt)
			return i;
		if (!shrt && strlen(opts[i].lng) == len && strncmp(opts[i].lng, lng, len) == 0)
			return i;
	}
	return -1;
}

static bool is_negative_number(const char *s)
{
	return s[0] == '-' && isdigit((unsigned char)s[1]);
}

int parse_args(const char *name, int argc, char **argv, struct args *a,
	       int min_pos, int max_pos)
{
	const struct verb *v = find_verb(name);
	const struct opt *opts = v->usage->opts;
	bool only_pos = false;

	memset(a, 0, sizeof(*a));
	a->opts = opts;
	for (int i = 1; i < argc; i++) {
		char *arg = argv[i];
		int idx;

		if (only_pos || arg[0] != '-' || arg[1] == '\0' || is_negative_number(arg)) {
			if (a->npos >= max_pos || a->npos >= MAX_POS)
				return usage_error(name, "unexpected argument '%s'", arg);
			a->pos[a->npos++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_pos = true;
			continue;
		}
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			verb_help(stdout, v);
			return -1;
		}
		if (arg[1] == '-') {
			char *eq = strchr(arg + 2, '=');
			size_t len = eq ? (size_t)(eq - (arg + 2)) : strlen(arg + 2);

			idx = find_opt(opts, arg + 2, len, 0);
			if (idx < 0)
				return usage_error(name, "unknown option '%s'", arg);
			if (!opts[idx].has_arg) {
				if (eq)
					return usage_error(name, "option --%s takes no value",
							   opts[idx].lng);
				a->val[idx] = "";
			} else if (eq) {
				a->val[idx] = eq + 1;
			} else if (i + 1 < argc) {
				a->val[idx] = argv[++i];
			} else {
				return usage_error(name, "option --%s needs a value",
						   opts[idx].lng);
			}
			continue;
		}
		/* short options, possibly grouped: -jx, or -mVALUE / -m VALUE */
		for (char *c = arg + 1; *c; c++) {
			idx = find_opt(opts, NULL, 0, *c);
			if (idx < 0)
				return usage_error(name, "unknown option '-%c'", *c);
			if (!opts[idx].has_arg) {
				a->val[idx] = "";
				continue;
			}
			if (c[1]) {
				a->val[idx] = c + 1;
			} else if (i + 1 < argc) {
				a->val[idx] = argv[++i];
			} else {
				return usage_error(name, "option -%c needs a value", *c);
			}
			break;
		}
	}
	if (a->npos < min_pos)
		return usage_error(name, "missing argument");
	return 0;
}

const char *opt_val(const struct args *a, const char *lng)
{
	int idx = find_opt(a->opts, lng, strlen(lng), 0);

	return idx < 0 ? NULL : a->val[idx];
}

bool has_opt(const struct args *a, const char *lng)
{
	return opt_val(a, lng) != NULL;
}

int exit_code(int err)
{
	switch (-err) {
	case 0:
		return EX_OK;
	case STM_ECONFLICT:
		return EX_CONFLICT;
	case STM_EBUSY:
		return EX_BUSY;
	case ENOENT:
		return EX_NOTFOUND;
	default:
		return EX_ERR;
	}
}

/* Print "stmctl: <what>: <error>" and return the exit code for @err. */
int fail(int err, const char *fmt, ...)
{
	va_list ap;

	fputs("stmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", stm_strerror(err));
	return exit_code(err);
}

int usage_error(const char *verb, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "stmctl%s%s: ", verb ? " " : "", verb ? verb : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'stmctl %s%s--help'.\n", verb ? verb : "", verb ? " " : "");
	return EX_USAGE;
}

int open_store(const char *name, int flags, struct stm_store **s)
{
	int ret;

	if (global_nonblock)
		flags |= STM_NONBLOCK;
	ret = stm_open(name, flags, 0, s);
	if (ret) {
		if (ret == -ENOENT)
			fprintf(stderr, "stmctl: %s: no such store\n", name);
		else
			fail(ret, "%s", name);
		return exit_code(ret);
	}
	return 0;
}

int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!*s || *s == '-' || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

int parse_i64(const char *s, int64_t *out)
{
	char *end;

	if (!*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*out = strtoll(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int parse_bytes(const char *arg, bool hex, uint8_t **out, size_t *len)
{
	size_t n = strlen(arg);
	uint8_t *b;

	if (!hex) {
		b = malloc(n + 1);
		if (!b)
			return -ENOMEM;
		memcpy(b, arg, n + 1);
		*out = b;
		*len = n;
		return 0;
	}
	if (arg[0] == '0' && (arg[1] == 'x' || arg[1] == 'X')) {
		arg += 2;
		n -= 2;
	}
	if (n % 2)
		return -EINVAL;
	b = malloc(n / 2 + 1);
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(arg[2 * i]), lo = hexval(arg[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(b);
			return -EINVAL;
		}
		b[i] = hi << 4 | lo;
	}
	b[n / 2] = 0;
	*out = b;
	*len = n / 2;
	return 0;
}

void print_hex(FILE *f, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++)
		fprintf(f, "%02x", p[i]);
}

void print_text_or_hex(FILE *f, const void *p, size_t len)
{
	if (stm_is_text(p, len)) {
		fwrite(p, 1, len, f);
	} else {
		fputs("0x", f);
		print_hex(f, p, len);
	}
}

void json_strout(FILE *f, const void *data, size_t len)
{
	const uint8_t *p = data;

	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/*
 * A store or family name as the kernel gave it, escaped: names are ASCII
 * [A-Za-z0-9._-] today, but nothing the kernel hands over is trusted to
 * be printable.  Text: any other byte as \xHH; JSON: as \u00HH.
 */
void print_name(FILE *f, const char *name, size_t max)
{
	size_t len = strnlen(name, max);

	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)name[i];

		if (c > 0x20 && c < 0x7f && c != '\\')
			fputc(c, f);
		else
			fprintf(f, "\\x%02x", c);
	}
}

void json_name(FILE *f, const char *name, size_t max)
{
	size_t len = strnlen(name, max);

	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)name[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void json_bytes(FILE *f, const char *name, const void *p, size_t len)
{
	bool text = stm_is_text(p, len);

	fprintf(f, "\"%s\":", name);
	if (text) {
		json_strout(f, p, len);
	} else {
		fputc('"', f);
		print_hex(f, p, len);
		fputc('"', f);
	}
	fprintf(f, ",\"%s_encoding\":\"%s\"", name, text ? "text" : "hex");
}

int64_t le64(const void *data)
{
	const uint8_t *b = data;
	uint64_t u = 0;

	for (int i = 0; i < 8; i++)
		u |= (uint64_t)b[i] << (8 * i);
	return (int64_t)u;
}

void json_entry(FILE *f, const void *key, size_t klen, bool present,
		uint64_t version, const void *val, size_t vlen)
{
	fputc('{', f);
	json_bytes(f, "key", key, klen);
	fprintf(f, ",\"present\":%s,\"version\":%" PRIu64, present ? "true" : "false",
		version);
	if (present) {
		fprintf(f, ",\"len\":%zu,", vlen);
		json_bytes(f, "value", val, vlen);
		if (vlen == 8)
			fprintf(f, ",\"i64\":%" PRId64, le64(val));
	}
	fputc('}', f);
}

int parse_key(const char *verb, const char *arg, bool hex, uint8_t **key, size_t *klen)
{
	if (parse_bytes(arg, hex, key, klen))
		return usage_error(verb, "bad hex key '%s'", arg);
	if (*klen == 0 || *klen > STM_KEY_MAX) {
		free(*key);
		*key = NULL;
		return usage_error(verb, "a key is 1 to %d bytes", STM_KEY_MAX);
	}
	return 0;
}

static int add_key(const struct stm_key_info *ki, void *arg)
{
	struct key_rows *r = arg;

	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		void *nv = realloc(r->v, cap * sizeof(*r->v));

		if (!nv)
			return -ENOMEM;
		r->v = nv;
		r->cap = cap;
	}
	r->v[r->n].key = malloc(ki->key_len);
	if (!r->v[r->n].key)
		return -ENOMEM;
	memcpy(r->v[r->n].key, ki->key, ki->key_len);
	r->v[r->n].klen = ki->key_len;
	r->v[r->n].version = ki->version;
	r->v[r->n].vlen = ki->value_len;
	r->n++;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	const struct key_row *x = a, *y = b;
	size_t m = x->klen < y->klen ? x->klen : y->klen;
	int r = memcmp(x->key, y->key, m);

	return r ? r : (x->klen > y->klen) - (x->klen < y->klen);
}

int collect_keys(struct stm_store *s, struct key_rows *r)
{
	int ret;

	memset(r, 0, sizeof(*r));
	ret = stm_keys(s, add_key, r);
	if (ret >= 0)
		qsort(r->v, r->n, sizeof(*r->v), key_cmp);
	return ret;
}

void free_keys(struct key_rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].key);
	free(r->v);
	memset(r, 0, sizeof(*r));
}
