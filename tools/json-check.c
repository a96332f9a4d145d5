// SPDX-License-Identifier: MIT
/*
 * json-check - a strict JSON (RFC 8259) validator with a tiny query, for
 * checking stmctl --json output where no other parser exists (the test
 * VM has busybox only).  Built statically, shipped beside stmctl.
 *
 *   json-check [--get PATH | --length PATH | --type PATH] [FILE]
 *
 * Reads one JSON text from FILE (default stdin).  Exit 0 when it is valid
 * (and PATH, if given, exists), 1 when it is not (a message gives the byte
 * offset), 2 on a bad command line, 3 when PATH does not exist.
 *
 * Strictness beyond the grammar: the text must be well-formed UTF-8, an
 * object may not repeat a member name, and nesting is limited to 256.
 *
 * PATH is a sequence of .NAME and [INDEX] steps ("." alone: the whole
 * text), e.g. .keys[0].value.  --get prints a string's contents (escapes
 * decoded), a number or literal as written, an object or array as its JSON
 * text; --length prints the number of members or elements (or of bytes of
 * a string); --type prints object, array, string, number, true, false or
 * null.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 256

struct parser {
	const unsigned char *s;
	size_t len, pos;
	const char *err;
	size_t err_pos;
};

static bool fail(struct parser *p, const char *msg)
{
	if (!p->err) {
		p->err = msg;
		p->err_pos = p->pos;
	}
	return false;
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
				   p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

static int peek(struct parser *p)
{
	return p->pos < p->len ? p->s[p->pos] : -1;
}

static int hexv(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void put_utf8(char **out, size_t *olen, unsigned cp)
{
	char *o = *out + *olen;

	if (cp < 0x80) {
		o[0] = cp;
		*olen += 1;
	} else if (cp < 0x800) {
		o[0] = 0xc0 | cp >> 6;
		o[1] = 0x80 | (cp & 0x3f);
		*olen += 2;
	} else if (cp < 0x10000) {
		o[0] = 0xe0 | cp >> 12;
		o[1] = 0x80 | (cp >> 6 & 0x3f);
		o[2] = 0x80 | (cp & 0x3f);
		*olen += 3;
	} else {
		o[0] = 0xf0 | cp >> 18;
		o[1] = 0x80 | (cp >> 12 & 0x3f);
		o[2] = 0x80 | (cp >> 6 & 0x3f);
		o[3] = 0x80 | (cp & 0x3f);
		*olen += 4;
	}
}

/* One UTF-8 sequence at p->pos (first byte >= 0x80); advances past it. */
static bool utf8_seq(struct parser *p, char **out, size_t *olen)
{
	const unsigned char *s = p->s + p->pos;
	size_t left = p->len - p->pos, more;
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf) {
		more = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		more = 2;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		more = 3;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return fail(p, "invalid UTF-8");
	}
	if (left <= more || s[1] < lo || s[1] > hi)
		return fail(p, "invalid UTF-8");
	for (size_t k = 2; k <= more; k++)
		if ((s[k] & 0xc0) != 0x80)
			return fail(p, "invalid UTF-8");
	if (out) {
		memcpy(*out + *olen, s, more + 1);
		*olen += more + 1;
	}
	p->pos += more + 1;
	return true;
}

static bool hex4(struct parser *p, unsigned *cp)
{
	unsigned v = 0;

	if (p->len - p->pos < 4)
		return fail(p, "short \\u escape");
	for (int i = 0; i < 4; i++) {
		int h = hexv(p->s[p->pos + i]);

		if (h < 0)
			return fail(p, "bad \\u escape");
		v = v << 4 | h;
	}
	p->pos += 4;
	*cp = v;
	return true;
}

/* A string at p->pos (the opening quote).  With @out (at least as long as
 * the input), its decoded contents go there. */
static bool parse_string(struct parser *p, char **out, size_t *olen)
{
	if (peek(p) != '"')
		return fail(p, "expected a string");
	p->pos++;
	for (;;) {
		int c = peek(p);

		if (c < 0)
			return fail(p, "unterminated string");
		if (c == '"') {
			p->pos++;
			return true;
		}
		if (c < 0x20)
			return fail(p, "control character in a string");
		if (c >= 0x80) {
			if (!utf8_seq(p, out, olen))
				return false;
			continue;
		}
		if (c != '\\') {
			if (out)
				(*out)[(*olen)++] = c;
			p->pos++;
			continue;
		}
		p->pos++;
		c = peek(p);
		p->pos++;
		switch (c) {
		case '"': case '\\': case '/':
			if (out)
				(*out)[(*olen)++] = c;
			break;
		case 'b': case 'f': case 'n': case 'r': case 't':
			if (out)
				(*out)[(*olen)++] = c == 'b' ? '\b' : c == 'f' ? '\f' :
						    c == 'n' ? '\n' : c == 'r' ? '\r' : '\t';
			break;
		case 'u': {
			unsigned cp, lo;

			if (!hex4(p, &cp))
				return false;
			if (cp >= 0xd800 && cp <= 0xdbff && p->len - p->pos >= 6 &&
			    p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u') {
				size_t save = p->pos;

				p->pos += 2;
				if (!hex4(p, &lo))
					return false;
				if (lo >= 0xdc00 && lo <= 0xdfff)
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				else
					p->pos = save;
			}
			if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 0xfffd;	/* a lone surrogate: legal, not a character */
			if (out)
				put_utf8(out, olen, cp);
			break;
		}
		default:
			p->pos--;
			return fail(p, "bad escape");
		}
	}
}

static bool digits(struct parser *p)
{
	size_t start = p->pos;

	while (peek(p) >= '0' && peek(p) <= '9')
		p->pos++;
	return p->pos > start;
}

static bool parse_number(struct parser *p)
{
	if (peek(p) == '-')
		p->pos++;
	if (peek(p) == '0')
		p->pos++;
	else if (!(peek(p) >= '1' && peek(p) <= '9') || !digits(p))
		return fail(p, "bad number");
	if (peek(p) == '.') {
		p->pos++;
		if (!digits(p))
			return fail(p, "bad fraction");
	}
	if (peek(p) == 'e' || peek(p) == 'E') {
		p->pos++;
		if (peek(p) == '+' || peek(p) == '-')
			p->pos++;
		if (!digits(p))
			return fail(p, "bad exponent");
	}
	return true;
}

static bool literal(struct parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n))
		return fail(p, "unexpected character");
	p->pos += n;
	return true;
}

static bool parse_value(struct parser *p, int depth);

/* Decoded member names seen in one object, to refuse duplicates. */
struct names {
	char **v;
	size_t *l;
	size_t n, cap;
};

static bool parse_object(struct parser *p, int depth)
{
	struct names nm = { 0 };
	bool ok = false;

	p->pos++;	/* { */
	skip_ws(p);
	if (peek(p) == '}') {
		p->pos++;
		return true;
	}
	for (;;) {
		size_t start, klen = 0;
		char *key;

		skip_ws(p);
		start = p->pos;
		key = malloc(p->len - start + 1);
		if (!key) {
			fail(p, "out of memory");
			goto out;
		}
		if (!parse_string(p, &key, &klen)) {
			free(key);
			goto out;
		}
		for (size_t i = 0; i < nm.n; i++) {
			if (nm.l[i] == klen && !memcmp(nm.v[i], key, klen)) {
				free(key);
				p->pos = start;
				fail(p, "duplicate member name");
				goto out;
			}
		}
		if (nm.n == nm.cap) {
			size_t cap = nm.cap ? 2 * nm.cap : 8;
			char **v = realloc(nm.v, cap * sizeof(*v));
			size_t *l = v ? realloc(nm.l, cap * sizeof(*l)) : NULL;

			if (v)
				nm.v = v;
			if (!v || !l) {
				free(key);
				fail(p, "out of memory");
				goto out;
			}
			nm.l = l;
			nm.cap = cap;
		}
		nm.v[nm.n] = key;
		nm.l[nm.n++] = klen;
		skip_ws(p);
		if (peek(p) != ':') {
			fail(p, "expected ':'");
			goto out;
		}
		p->pos++;
		if (!parse_value(p, depth + 1))
			goto out;
		skip_ws(p);
		if (peek(p) == ',') {
			p->pos++;
			continue;
		}
		if (peek(p) == '}') {
			p->pos++;
			ok = true;
			goto out;
		}
		fail(p, "expected ',' or '}'");
		goto out;
	}
out:
	for (size_t i = 0; i < nm.n; i++)
		free(nm.v[i]);
	free(nm.v);
	free(nm.l);
	return ok;
}

static bool parse_array(struct parser *p, int depth)
{
	p->pos++;	/* [ */
	skip_ws(p);
	if (peek(p) == ']') {
		p->pos++;
		return true;
	}
	for (;;) {
		if (!parse_value(p, depth + 1))
			return false;
		skip_ws(p);
		if (peek(p) == ',') {
			p->pos++;
			continue;
		}
		if (peek(p) == ']') {
			p->pos++;
			return true;
		}
		return fail(p, "expected ',' or ']'");
	}
}

static bool parse_value(struct parser *p, int depth)
{
	if (depth > MAX_DEPTH)
		return fail(p, "nested too deeply");
	skip_ws(p);
	switch (peek(p)) {
	case '{':
		return parse_object(p, depth);
	case '[':
		return parse_array(p, depth);
	case '"':
		return parse_string(p, NULL, NULL);
	case 't':
		return literal(p, "true");
	case 'f':
		return literal(p, "false");
	case 'n':
		return literal(p, "null");
	case -1:
		return fail(p, "unexpected end of input");
	default:
		if (peek(p) == '-' || (peek(p) >= '0' && peek(p) <= '9'))
			return parse_number(p);
		return fail(p, "unexpected character");
	}
}

/* ---- queries on a text already validated ---- */

/* Move p->pos to the value at @path; false if it does not exist. */
static bool find_path(struct parser *p, const char *path)
{
	skip_ws(p);
	while (*path) {
		if (path[0] == '.' && path[1] == '\0')
			break;
		if (path[0] == '.') {
			const char *name = path + 1;
			size_t nlen = strcspn(name, ".[");
			bool found = false;

			path = name + nlen;
			if (peek(p) != '{')
				return false;
			p->pos++;
			skip_ws(p);
			if (peek(p) == '}')
				return false;
			while (!found) {
				char *key = malloc(p->len - p->pos + 1);
				size_t klen = 0;

				if (!key)
					return false;
				skip_ws(p);
				parse_string(p, &key, &klen);
				found = klen == nlen && !memcmp(key, name, nlen);
				free(key);
				skip_ws(p);
				p->pos++;	/* : */
				skip_ws(p);
				if (found)
					break;
				parse_value(p, 0);
				skip_ws(p);
				if (peek(p) == '}')
					return false;
				p->pos++;	/* , */
			}
		} else if (path[0] == '[') {
			char *end;
			long idx = strtol(path + 1, &end, 10);

			if (end == path + 1 || *end != ']' || idx < 0)
				return false;
			path = end + 1;
			if (peek(p) != '[')
				return false;
			p->pos++;
			skip_ws(p);
			if (peek(p) == ']')
				return false;
			for (long i = 0; i < idx; i++) {
				parse_value(p, 0);
				skip_ws(p);
				if (peek(p) == ']')
					return false;
				p->pos++;	/* , */
			}
			skip_ws(p);
		} else {
			return false;
		}
	}
	return true;
}

static const char *type_at(struct parser *p)
{
	switch (peek(p)) {
	case '{': return "object";
	case '[': return "array";
	case '"': return "string";
	case 't': return "true";
	case 'f': return "false";
	case 'n': return "null";
	default:  return "number";
	}
}

static long length_at(struct parser *p)
{
	int c = peek(p);
	long n = 0;

	if (c == '"') {
		char *buf = malloc(p->len - p->pos + 1);
		size_t len = 0;

		if (!buf)
			return -1;
		parse_string(p, &buf, &len);
		free(buf);
		return len;
	}
	if (c != '{' && c != '[')
		return -1;
	p->pos++;
	skip_ws(p);
	if (peek(p) == (c == '{' ? '}' : ']'))
		return 0;
	for (;;) {
		if (c == '{') {
			parse_string(p, NULL, NULL);
			skip_ws(p);
			p->pos++;	/* : */
		}
		parse_value(p, 0);
		n++;
		skip_ws(p);
		if (peek(p) != ',')
			return n;
		p->pos++;
		skip_ws(p);
	}
}

static int print_at(struct parser *p)
{
	size_t start = p->pos;

	if (peek(p) == '"') {
		char *buf = malloc(p->len - p->pos + 1);
		size_t len = 0;

		if (!buf)
			return 1;
		parse_string(p, &buf, &len);
		fwrite(buf, 1, len, stdout);
		free(buf);
	} else {
		parse_value(p, 0);
		fwrite(p->s + start, 1, p->pos - start, stdout);
	}
	putchar('\n');
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: json-check [--get PATH | --length PATH | --type PATH] [FILE]\n"
		   "Validate one JSON text (strict RFC 8259, UTF-8, no repeated member names).\n"
		   "PATH: .NAME and [INDEX] steps, e.g. .keys[0].value ('.' is the whole text).\n"
		   "Exit: 0 valid, 1 invalid, 2 usage, 3 PATH not found.\n");
}

int main(int argc, char **argv)
{
	const char *path = NULL, *file = NULL, *mode = NULL;
	struct parser p = { 0 };
	unsigned char *buf = NULL;
	size_t cap = 0;
	FILE *in = stdin;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--get") || !strcmp(argv[i], "--length") ||
		    !strcmp(argv[i], "--type")) {
			if (i + 1 >= argc || mode) {
				usage(stderr);
				return 2;
			}
			mode = argv[i];
			path = argv[++i];
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			usage(stderr);
			return 2;
		} else if (!file) {
			file = argv[i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (file && strcmp(file, "-")) {
		in = fopen(file, "rb");
		if (!in) {
			perror(file);
			return 2;
		}
	}
	for (;;) {
		size_t n;

		if (p.len == cap) {
			unsigned char *nb;

			cap = cap ? 2 * cap : 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				fprintf(stderr, "json-check: out of memory\n");
				return 1;
			}
			buf = nb;
		}
		n = fread(buf + p.len, 1, cap - p.len, in);
		p.len += n;
		if (n == 0)
			break;
	}
	p.s = buf;
	if (parse_value(&p, 0)) {
		skip_ws(&p);
		if (p.pos != p.len)
			fail(&p, "trailing characters after the JSON text");
	}
	if (p.err) {
		fprintf(stderr, "json-check: invalid JSON at byte %zu: %s\n", p.err_pos, p.err);
		return 1;
	}
	if (!mode)
		return 0;
	p.pos = 0;
	if (!find_path(&p, path)) {
		fprintf(stderr, "json-check: %s: no such path\n", path);
		return 3;
	}
	if (!strcmp(mode, "--type")) {
		puts(type_at(&p));
	} else if (!strcmp(mode, "--length")) {
		long n = length_at(&p);

		if (n < 0) {
			fprintf(stderr, "json-check: %s: not an object, array or string\n", path);
			return 3;
		}
		printf("%ld\n", n);
	} else {
		return print_at(&p);
	}
	return 0;
}
