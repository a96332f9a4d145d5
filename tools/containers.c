// SPDX-License-Identifier: MIT
/*
 * containers.c - stmctl queue, mvar, sem, map, keyset and array: the
 * library's containers (lib/containers.c, Documentation/containers.rst)
 * from the shell, over the same keys as C programs use.
 *
 *   stmctl queue  NAME Q   put VALUE | take | peek | size | init CAP
 *   stmctl mvar   NAME MV  put VALUE | take | read
 *   stmctl sem    NAME SEM acquire [N] | release [N] | value
 *   stmctl map    NAME M   get K | put K V | del K | has K | ls | size
 *   stmctl keyset NAME S   add K | rm K | has K | ls | size
 *   stmctl array  NAME A   init N | get I | set I V | size
 *
 * ("set" is the verb that writes a key, hence "keyset" for the set.)
 *
 * Each command is one transaction (stm_atomic()) of one container call.
 * An operation that would have to wait (a take from an empty queue, a put
 * into a full one, an acquire of units not there) fails at once with exit
 * code 6: the blocking call runs as the first alternative of stm_or_else()
 * and the second gives up.  With --wait it is the library's blocking retry:
 * the process sleeps in the kernel until a key the attempt read changes,
 * then runs it again; --timeout bounds the whole call (stm_txn_opts).
 * Interrupted or timed out, it has taken nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "stmctl.h"

/* Reruns after conflicts before giving up (not counting waits). */
#define C_MAX_RETRIES	1000
/* First buffer for a value handed out; grown to the value's size. */
#define C_BUF0		4096
/* A queue's or an array's name leaves room for "/i/" + 16 hex digits. */
#define C_NAME_MAX_IDX	(STM_KEY_MAX - 19)
/* A map's or set's entry key is NAME "/k/" KEY. */
#define C_MAP_MID	3

enum ckind {
	Q_PUT, Q_TAKE, Q_PEEK, Q_SIZE, Q_INIT,
	MV_PUT, MV_TAKE, MV_READ,
	SEM_ACQUIRE, SEM_RELEASE, SEM_VALUE,
	MAP_GET, MAP_PUT, MAP_DEL, MAP_HAS, MAP_LS, MAP_SIZE,
	SET_ADD, SET_RM, SET_HAS, SET_LS, SET_SIZE,
	ARR_INIT, ARR_GET, ARR_SET, ARR_SIZE,
};

/* What an operation takes (after OP, in this order) and prints. */
#define C_BLOCKS	(1u << 0)	/* may wait: exit 6 at once, or --wait */
#define C_RDONLY	(1u << 1)	/* only reads: the store is opened read-only */
#define C_NUM		(1u << 2)	/* a number: capacity, units, size or index */
#define C_NUM_OPT	(1u << 3)	/* ... which may be left out (1) */
#define C_KEY		(1u << 4)	/* a KEY of a map or set */
#define C_VALUE		(1u << 5)	/* a VALUE, last */
#define C_OUT_VAL	(1u << 6)	/* prints a value */
#define C_OUT_NUM	(1u << 7)	/* prints a number */
#define C_OUT_HAS	(1u << 8)	/* prints true or false (exit 5) */
#define C_OUT_LS	(1u << 9)	/* prints the entries */
#define C_FORCE		(1u << 10)	/* --force: absent is no error */

struct cop_def {
	const char *op;
	enum ckind kind;
	unsigned flags;
	const char *blocked;	/* C_BLOCKS: why it would wait */
};

struct ctype {
	const char *verb;
	const char *what;	/* "a queue": in "not a queue" */
	const char *numname;	/* what C_NUM is, for messages */
	size_t name_max;
	const struct cop_def *ops;	/* ends with op == NULL */
};

static const struct cop_def queue_ops[] = {
	{ "put",  Q_PUT,  C_BLOCKS | C_VALUE, "is full" },
	{ "take", Q_TAKE, C_BLOCKS | C_OUT_VAL, "is empty" },
	{ "peek", Q_PEEK, C_BLOCKS | C_RDONLY | C_OUT_VAL, "is empty" },
	{ "size", Q_SIZE, C_RDONLY | C_OUT_NUM, NULL },
	{ "init", Q_INIT, C_NUM, NULL },
	{ NULL, 0, 0, NULL },
};

static const struct cop_def mvar_ops[] = {
	{ "put",  MV_PUT,  C_BLOCKS | C_VALUE, "is full" },
	{ "take", MV_TAKE, C_BLOCKS | C_OUT_VAL, "is empty" },
	{ "read", MV_READ, C_BLOCKS | C_RDONLY | C_OUT_VAL, "is empty" },
	{ NULL, 0, 0, NULL },
};

static const struct cop_def sem_ops[] = {
	{ "acquire", SEM_ACQUIRE, C_BLOCKS | C_NUM | C_NUM_OPT, "has fewer units" },
	{ "release", SEM_RELEASE, C_NUM | C_NUM_OPT, NULL },
	{ "value",   SEM_VALUE,   C_RDONLY | C_OUT_NUM, NULL },
	{ NULL, 0, 0, NULL },
};

static const struct cop_def map_ops[] = {
	{ "get",  MAP_GET,  C_RDONLY | C_KEY | C_OUT_VAL, NULL },
	{ "put",  MAP_PUT,  C_KEY | C_VALUE, NULL },
	{ "del",  MAP_DEL,  C_KEY | C_FORCE, NULL },
	{ "has",  MAP_HAS,  C_RDONLY | C_KEY | C_OUT_HAS, NULL },
	{ "ls",   MAP_LS,   C_RDONLY | C_OUT_LS, NULL },
	{ "size", MAP_SIZE, C_RDONLY | C_OUT_NUM, NULL },
	{ NULL, 0, 0, NULL },
};

static const struct cop_def set_ops[] = {
	{ "add",  SET_ADD,  C_KEY, NULL },
	{ "rm",   SET_RM,   C_KEY | C_FORCE, NULL },
	{ "has",  SET_HAS,  C_RDONLY | C_KEY | C_OUT_HAS, NULL },
	{ "ls",   SET_LS,   C_RDONLY | C_OUT_LS, NULL },
	{ "size", SET_SIZE, C_RDONLY | C_OUT_NUM, NULL },
	{ NULL, 0, 0, NULL },
};

static const struct cop_def array_ops[] = {
	{ "init", ARR_INIT, C_NUM, NULL },
	{ "get",  ARR_GET,  C_RDONLY | C_NUM | C_OUT_VAL, NULL },
	{ "set",  ARR_SET,  C_NUM | C_VALUE, NULL },
	{ "size", ARR_SIZE, C_RDONLY | C_OUT_NUM, NULL },
	{ NULL, 0, 0, NULL },
};

static const struct ctype ctypes[] = {
	{ "queue",  "a queue",     "capacity", C_NAME_MAX_IDX, queue_ops },
	{ "mvar",   "an MVar",     NULL,       STM_KEY_MAX,    mvar_ops },
	{ "sem",    "a semaphore", "units",    STM_KEY_MAX,    sem_ops },
	{ "map",    "a map",       NULL,       STM_KEY_MAX - C_MAP_MID - 1, map_ops },
	{ "keyset", "a set",       NULL,       STM_KEY_MAX - C_MAP_MID - 1, set_ops },
	{ "array",  "an array",    "index",    C_NAME_MAX_IDX, array_ops },
};

#define O_JSON	{ "json",    'j', 0, NULL, "print JSON (operations that print)" }
#define O_I64	{ "i64",     0,   0, NULL, "VALUE is an integer (8 bytes little-endian); print values as one" }
#define O_HEX	{ "hex",     0,   0, NULL, "VALUE is given in hex; print values in hex" }
#define O_RAW	{ "raw",     0,   0, NULL, "write the value's bytes as they are" }
#define O_WAIT	{ "wait",    'w', 0, NULL, "wait (asleep) until it can go on, instead of exit 6" }
#define O_TMO	{ "timeout", 't', 1, "MS", "wait at most MS milliseconds (implies --wait), then exit 6" }
#define O_HKEY	{ "hex-key", 'x', 0, NULL, "KEY is given in hex" }
#define O_FORCE	{ "force",   'f', 0, NULL, "del/rm: no error when the key is absent" }
#define O_END	{ NULL, 0, 0, NULL, NULL }

static const struct opt queue_opts[] = { O_JSON, O_I64, O_HEX, O_RAW, O_WAIT, O_TMO, O_END };
static const struct opt sem_opts[] = { O_JSON, O_WAIT, O_TMO, O_END };
static const struct opt map_opts[] = { O_JSON, O_I64, O_HEX, O_RAW, O_HKEY, O_FORCE, O_END };
static const struct opt set_opts[] = { O_JSON, O_HKEY, O_FORCE, O_END };
static const struct opt array_opts[] = { O_JSON, O_I64, O_HEX, O_RAW, O_END };

#define C_EXIT_WAIT \
	"Exit codes: 6 when it would have to wait (without --wait) or --timeout\n" \
	"passed (nothing was done); 5 no such store; 1 when the keys hold\n" \
	"something else than this container.  Key layout:\n" \
	"Documentation/containers.rst.\n"
#define C_EXIT_TEXT \
	"Exit codes: 5 no such store (or key, or array); 1 when the keys hold\n" \
	"something else than this container.  Key layout:\n" \
	"Documentation/containers.rst.\n"

const struct usage queue_usage = {
	"NAME Q put VALUE|take|peek|size|init CAP",
	"A FIFO queue over keys Q/h, Q/t, Q/c and Q/i/<index>.  put appends\n"
	"(waits while a bounded queue is full), take removes and prints the oldest\n"
	"item, peek prints it, size prints the number of items, init CAP bounds\n"
	"the queue at CAP items (0: unbounded).\n" C_EXIT_WAIT,
	queue_opts,
};

const struct usage mvar_usage = {
	"NAME MV put VALUE|take|read",
	"A one-place box, the key MV (absent: empty).  put fills it (waits while\n"
	"full), take empties it and prints the value, read prints it (both wait\n"
	"while empty).\n" C_EXIT_WAIT,
	queue_opts,
};

const struct usage sem_usage = {
	"NAME SEM acquire [N]|release [N]|value",
	"A counting semaphore, the 8-byte integer key SEM (absent: 0).  acquire\n"
	"takes N units (default 1; waits while fewer are there), release gives N\n"
	"back (a commuting addition, it never conflicts; releasing is also how a\n"
	"semaphore gets its first units), value prints the units there.\n"
	C_EXIT_WAIT,
	sem_opts,
};

const struct usage map_usage = {
	"NAME M get K|put K V|del K|has K|ls|size",
	"A map over keys M/k/<K>, with its entry count in M/#.  get prints K's\n"
	"value, put sets it, del removes K, has prints true or false (exit 0 or 5),\n"
	"ls prints KEY<tab>VALUE per entry (sorted by key), size the count.\n"
	"Exit code 5 also for get/del of an absent key.\n" C_EXIT_TEXT,
	map_opts,
};

const struct usage keyset_usage = {
	"NAME S add K|rm K|has K|ls|size",
	"A set: a map with empty values (keys S/k/<K>, count in S/#).  add and rm\n"
	"add and remove K, has prints true or false (exit 0 or 5), ls prints the\n"
	"members sorted, size their number.  Exit code 5 for rm of an absent key.\n"
	C_EXIT_TEXT,
	set_opts,
};

const struct usage array_usage = {
	"NAME A init N|get I|set I V|size",
	"A fixed-size array: its size in A/n, element I in A/<16 hex digits>.\n"
	"init N makes it N elements (empty until set), get prints element I, set\n"
	"writes it, size prints N.  Exit 1 for an index past the end.\n"
	C_EXIT_TEXT,
	array_opts,
};

struct ent {
	uint8_t *key, *val;
	size_t klen, vlen;
};

/* One command: the operation, its arguments and what it gave. */
struct cop {
	const struct ctype *t;
	const struct cop_def *d;
	const char *name;
	uint8_t *key;
	size_t klen;
	const uint8_t *val;
	size_t vlen;
	uint64_t num;
	bool want_i64;		/* --i64 on a value handed out: must be 8 bytes */
	uint8_t *buf;		/* the value handed out */
	size_t cap, len;
	uint64_t out;		/* a size, a count */
	struct ent *ents;	/* ls */
	size_t nents, ecap;
};

static void ents_free(struct cop *c)
{
	for (size_t i = 0; i < c->nents; i++) {
		free(c->ents[i].key);
		free(c->ents[i].val);
	}
	free(c->ents);
	c->ents = NULL;
	c->nents = 0;
	c->ecap = 0;
}

static void *dup_bytes(const void *p, size_t len)
{
	void *b = malloc(len ? len : 1);

	if (b && len)
		memcpy(b, p, len);
	return b;
}

/* stm_map_iterate() callback: copy the entry (its data lives only in the attempt). */
static int ls_cb(struct stm_txn *tx, const void *key, size_t klen, const void *val,
		 size_t vlen, void *arg)
{
	struct cop *c = arg;
	struct ent *e;

	(void)tx;
	if (c->nents == c->ecap) {
		size_t nc = c->ecap ? 2 * c->ecap : 32;
		struct ent *ne = realloc(c->ents, nc * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		c->ents = ne;
		c->ecap = nc;
	}
	e = &c->ents[c->nents];
	e->key = dup_bytes(key, klen);
	e->val = dup_bytes(val, vlen);
	if (!e->key || !e->val) {
		free(e->key);
		free(e->val);
		return -ENOMEM;
	}
	e->klen = klen;
	e->vlen = vlen;
	c->nents++;
	return 0;
}

static int get_once(struct stm_txn *tx, struct cop *c)
{
	switch (c->d->kind) {
	case Q_TAKE:
		return stm_queue_take(tx, c->name, c->buf, c->cap, &c->len);
	case Q_PEEK:
		return stm_queue_peek(tx, c->name, c->buf, c->cap, &c->len);
	case MV_TAKE:
		return stm_mvar_take(tx, c->name, c->buf, c->cap, &c->len);
	case MV_READ:
		return stm_mvar_read(tx, c->name, c->buf, c->cap, &c->len);
	case MAP_GET:
		return stm_map_get(tx, c->name, c->key, c->klen, c->buf, c->cap, &c->len);
	default:
		return stm_array_get(tx, c->name, c->num, c->buf, c->cap, &c->len);
	}
}

/* A value handed out, into c->buf, grown to fit. */
static int get_value(struct stm_txn *tx, struct cop *c)
{
	int ret = get_once(tx, c);

	/*
	 * Too big for the buffer: nothing changed, and the attempt has the
	 * key cached, so a second call with a buffer of the size it gave
	 * sees the same value.
	 */
	if (ret == -EMSGSIZE && c->len > c->cap) {
		uint8_t *nb = realloc(c->buf, c->len);

		if (!nb)
			return -ENOMEM;
		c->buf = nb;
		c->cap = c->len;
		ret = get_once(tx, c);
	}
	/* --i64 and not 8 bytes: take nothing rather than lose the item. */
	if (!ret && c->want_i64 && c->len != 8)
		return -EBADMSG;
	return ret;
}

static int c_do(struct stm_txn *tx, void *arg)
{
	struct cop *c = arg;
	int64_t x;
	int ret;

	switch (c->d->kind) {
	case Q_TAKE:
	case Q_PEEK:
	case MV_TAKE:
	case MV_READ:
	case MAP_GET:
	case ARR_GET:
		return get_value(tx, c);
	case Q_PUT:
		return stm_queue_put(tx, c->name, c->val, c->vlen);
	case Q_SIZE:
		return stm_queue_size(tx, c->name, &c->out);
	case Q_INIT:
		return stm_queue_init(tx, c->name, c->num);
	case MV_PUT:
		return stm_mvar_put(tx, c->name, c->val, c->vlen);
	case SEM_ACQUIRE:
		return stm_sem_acquire(tx, c->name, c->num);
	case SEM_RELEASE:
		return stm_sem_release(tx, c->name, c->num);
	case SEM_VALUE:
		ret = stm_get_i64(tx, c->name, &x);
		if (ret)
			return ret;
		if (x < 0)
			return -EINVAL;
		c->out = (uint64_t)x;
		return 0;
	case MAP_PUT:
		return stm_map_put(tx, c->name, c->key, c->klen, c->val, c->vlen);
	case MAP_DEL:
		return stm_map_del(tx, c->name, c->key, c->klen);
	case MAP_HAS:
	case SET_HAS:
		return stm_map_contains(tx, c->name, c->key, c->klen);
	case MAP_LS:
	case SET_LS:
		ents_free(c);	/* a rerun starts again */
		return stm_map_iterate(tx, c->name, ls_cb, c);
	case MAP_SIZE:
	case SET_SIZE:
		return stm_map_size(tx, c->name, &c->out);
	case SET_ADD:
		return stm_set_add(tx, c->name, c->key, c->klen);
	case SET_RM:
		return stm_set_remove(tx, c->name, c->key, c->klen);
	case ARR_INIT:
		return stm_array_init(tx, c->name, c->num);
	case ARR_SET:
		return stm_array_set(tx, c->name, c->num, c->val, c->vlen);
	case ARR_SIZE:
		return stm_array_size(tx, c->name, &c->out);
	}
	return -EINVAL;
}

static int give_up(struct stm_txn *tx, void *arg)
{
	(void)tx;
	(void)arg;
	return -EAGAIN;
}

/* Without --wait: the blocking call, or else give up (its retry undone). */
static int c_try(struct stm_txn *tx, void *arg)
{
	return stm_or_else(tx, c_do, arg, give_up, NULL);
}

static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	size_t m = x->klen < y->klen ? x->klen : y->klen;
	int r = memcmp(x->key, y->key, m);

	return r ? r : (x->klen > y->klen) - (x->klen < y->klen);
}

static void print_value(const struct cop *c, const struct args *a)
{
	if (has_opt(a, "json")) {
		printf("{\"len\":%zu,", c->len);
		json_bytes(stdout, "value", c->buf, c->len);
		if (c->len == 8)
			printf(",\"i64\":%" PRId64, le64(c->buf));
		printf("}\n");
	} else if (has_opt(a, "i64")) {
		printf("%" PRId64 "\n", le64(c->buf));	/* 8 bytes: checked */
	} else if (has_opt(a, "raw")) {
		fwrite(c->buf, 1, c->len, stdout);
	} else if (has_opt(a, "hex")) {
		print_hex(stdout, c->buf, c->len);
		putchar('\n');
	} else {
		print_text_or_hex(stdout, c->buf, c->len);
		putchar('\n');
	}
}

static void print_ls(struct cop *c, const struct args *a)
{
	bool map = c->d->kind == MAP_LS, json = has_opt(a, "json");

	if (c->nents)
		qsort(c->ents, c->nents, sizeof(*c->ents), ent_cmp);
	if (json)
		putchar('[');
	for (size_t i = 0; i < c->nents; i++) {
		const struct ent *e = &c->ents[i];

		if (json) {
			printf("%s{", i ? "," : "");
			json_bytes(stdout, "key", e->key, e->klen);
			if (map) {
				printf(",\"len\":%zu,", e->vlen);
				json_bytes(stdout, "value", e->val, e->vlen);
				if (e->vlen == 8)
					printf(",\"i64\":%" PRId64, le64(e->val));
			}
			putchar('}');
			continue;
		}
		print_text_or_hex(stdout, e->key, e->klen);
		if (map) {
			putchar('\t');
			if (has_opt(a, "hex"))
				print_hex(stdout, e->val, e->vlen);
			else
				print_text_or_hex(stdout, e->val, e->vlen);
		}
		putchar('\n');
	}
	if (json)
		printf("]\n");
}

/* Print what a committed operation gave (@ret, stm_atomic's result). */
static int c_print(struct cop *c, int ret, const struct args *a)
{
	bool json = has_opt(a, "json");
	unsigned f = c->d->flags;

	if (f & C_OUT_VAL) {
		print_value(c, a);
	} else if (f & C_OUT_NUM) {
		if (json)
			printf("{\"%s\":%" PRIu64 "}\n",
			       c->d->kind == SEM_VALUE ? "value" : "size", c->out);
		else
			printf("%" PRIu64 "\n", c->out);
	} else if (f & C_OUT_HAS) {
		if (json)
			printf("{\"present\":%s}\n", ret ? "true" : "false");
		else
			printf("%s\n", ret ? "true" : "false");
		return ret ? EX_OK : EX_NOTFOUND;
	} else if (f & C_OUT_LS) {
		print_ls(c, a);
	} else if (c->d->kind == MAP_PUT && json) {
		printf("{\"added\":%s}\n", ret ? "true" : "false");
	}
	return EX_OK;
}

/* A failed operation: a message on stderr, and the exit code. */
static int c_error(const struct cop *c, int ret, const struct args *a)
{
	const char *v = c->t->verb, *n = c->name;

	switch (ret) {
	case -EAGAIN:
		fprintf(stderr, "stmctl: %s %s %s\n", v, n, c->d->blocked);
		return EX_WOULDBLOCK;
	case -ETIMEDOUT:
		if (!opt_val(a, "timeout"))
			break;
		fprintf(stderr, "stmctl: %s %s %s: timed out after %s ms\n", v, n,
			c->d->blocked ? c->d->blocked : "busy", opt_val(a, "timeout"));
		return EX_WOULDBLOCK;
	case -EINVAL:
		fprintf(stderr, "stmctl: %s %s: not %s (its keys hold something else)\n",
			v, n, c->t->what);
		return EX_ERR;
	case -ENOENT:
		if (c->t->ops == array_ops) {
			fprintf(stderr, "stmctl: array %s: no such array (never initialised)\n",
				n);
		} else if (c->key) {
			fprintf(stderr, "stmctl: %s %s: no such key ", v, n);
			print_text_or_hex(stderr, c->key, c->klen);
			fputc('\n', stderr);
		} else {
			return fail(ret, "%s %s", v, n);
		}
		return EX_NOTFOUND;
	case -EEXIST:
		fprintf(stderr, "stmctl: %s %s: already has another %s\n", v, n,
			c->d->kind == Q_INIT ? "capacity" : "size");
		return EX_ERR;
	case -ERANGE:
		fprintf(stderr, "stmctl: array %s: index %" PRIu64 " is past the end\n",
			n, c->num);
		return EX_ERR;
	case -EBADMSG:
		fprintf(stderr,
			"stmctl: %s %s: the value is %zu bytes, not an 8-byte integer (nothing done)\n",
			v, n, c->len);
		return EX_ERR;
	case -STM_ERETRIES:
		fprintf(stderr, "stmctl: %s %s: gave up after %d conflicts%s\n", v, n,
			C_MAX_RETRIES,
			c->d->flags & C_OUT_LS ?
			" (is its count NAME/# out of step with its NAME/k/ keys?)" : "");
		return EX_ERR;
	default:
		break;
	}
	return fail(ret, "%s %s", v, n);
}

static const struct cop_def *find_op(const struct ctype *t, const char *op)
{
	for (const struct cop_def *d = t->ops; d->op; d++)
		if (!strcmp(d->op, op))
			return d;
	return NULL;
}

/* The arguments after OP, checked; EX_USAGE after a message. */
static int c_args(struct cop *c, const struct args *a, uint8_t *i64buf, uint8_t **vbuf)
{
	const char *v = c->t->verb;
	unsigned f = c->d->flags;
	int want = !!(f & C_NUM) + !!(f & C_KEY) + !!(f & C_VALUE);
	int have = a->npos - 3, i = 3;
	int nfmt = has_opt(a, "i64") + has_opt(a, "hex") + has_opt(a, "raw");

	if (have > want || have < want - !!(f & C_NUM_OPT))
		return usage_error(v, "%s %s takes %d argument%s", v, c->d->op, want,
				   want == 1 ? "" : "s");
	if ((has_opt(a, "wait") || has_opt(a, "timeout")) && !(f & C_BLOCKS))
		return usage_error(v, "--wait and --timeout are for operations that wait");
	if (has_opt(a, "force") && !(f & C_FORCE))
		return usage_error(v, "--force is for del and rm");
	if (has_opt(a, "hex-key") && !(f & C_KEY))
		return usage_error(v, "--hex-key is for operations on a key");
	if (nfmt > 1)
		return usage_error(v, "--i64, --hex and --raw exclude each other");
	if (nfmt && !(f & (C_VALUE | C_OUT_VAL | C_OUT_LS)))
		return usage_error(v, "--i64, --hex and --raw are for values");
	if ((f & C_OUT_LS) && (has_opt(a, "i64") || has_opt(a, "raw")))
		return usage_error(v, "ls prints values as text or --hex");
	if ((f & C_VALUE) && has_opt(a, "raw"))
		return usage_error(v, "--raw is for values printed");
	c->num = 1;
	if ((f & C_NUM) && have == want) {
		const char *s = a->pos[i++];

		const char *what = c->d->kind == ARR_INIT ? "size" : c->t->numname;
		/* 0: an unbounded queue, element 0; no semaphore units, no array */
		bool zero_ok = c->d->kind == Q_INIT || c->d->kind == ARR_GET ||
			       c->d->kind == ARR_SET;

		if (parse_u64(s, &c->num) || c->num > INT64_MAX || (!c->num && !zero_ok))
			return usage_error(v, "bad %s '%s'", what, s);
	}
	if (f & C_KEY) {
		const char *s = a->pos[i++];
		size_t room = STM_KEY_MAX - C_MAP_MID - strlen(c->name);

		if (parse_bytes(s, has_opt(a, "hex-key"), &c->key, &c->klen))
			return usage_error(v, "bad hex key '%s'", s);
		if (!c->klen || c->klen > room)
			return usage_error(v, "a key of %s is 1 to %zu bytes", c->name, room);
	}
	if (f & C_VALUE) {
		const char *s = a->pos[i];

		if (has_opt(a, "i64")) {
			int64_t x;

			if (parse_i64(s, &x))
				return usage_error(v, "bad integer '%s'", s);
			for (int b = 0; b < 8; b++)
				i64buf[b] = (uint8_t)((uint64_t)x >> (8 * b));
			c->val = i64buf;
			c->vlen = 8;
		} else {
			if (parse_bytes(s, has_opt(a, "hex"), vbuf, &c->vlen))
				return usage_error(v, "bad hex value '%s'", s);
			c->val = *vbuf;
		}
	}
	c->want_i64 = (f & C_OUT_VAL) && has_opt(a, "i64");
	return 0;
}

static int cmd_container(const struct ctype *t, int argc, char **argv)
{
	struct stm_txn_opts opts = { .max_retries = C_MAX_RETRIES };
	struct cop c = { .t = t };
	uint8_t i64buf[8], *vbuf = NULL;
	struct stm_store *s = NULL;
	const char *tmo;
	uint64_t ms = 0;
	size_t nlen;
	struct args a;
	int ret, rc;

	ret = parse_args(t->verb, argc, argv, &a, 3, 5);
	if (ret)
		return ret < 0 ? EX_OK : ret;
	c.name = a.pos[1];
	nlen = strlen(c.name);
	if (!nlen || nlen > t->name_max)
		return usage_error(t->verb, "a %s name is 1 to %zu bytes", t->verb,
				   t->name_max);
	c.d = find_op(t, a.pos[2]);
	if (!c.d)
		return usage_error(t->verb, "unknown operation '%s'", a.pos[2]);
	tmo = opt_val(&a, "timeout");
	if (tmo && (parse_u64(tmo, &ms) || !ms || ms > UINT_MAX))
		return usage_error(t->verb, "bad timeout '%s' (milliseconds, > 0)", tmo);
	rc = c_args(&c, &a, i64buf, &vbuf);
	if (rc)
		goto out;
	if (c.d->flags & C_OUT_VAL) {
		c.cap = C_BUF0;
		c.buf = malloc(c.cap);
		if (!c.buf) {
			rc = fail(-ENOMEM, "%s %s", t->verb, c.name);
			goto out;
		}
	}
	rc = open_store(a.pos[0], c.d->flags & C_RDONLY ? STM_RDONLY : 0, &s);
	if (rc)
		goto out;
	opts.timeout_ms = (unsigned int)ms;
	if (!(c.d->flags & C_BLOCKS) || has_opt(&a, "wait") || tmo)
		ret = stm_atomic(s, c_do, &c, &opts);
	else
		ret = stm_atomic(s, c_try, &c, &opts);
	if (ret == -ENOENT && has_opt(&a, "force"))
		rc = EX_OK;
	else if (ret < 0)
		rc = c_error(&c, ret, &a);
	else
		rc = c_print(&c, ret, &a);
out:
	if (s)
		stm_close(s);
	ents_free(&c);
	free(c.buf);
	free(c.key);
	free(vbuf);
	return rc;
}

int cmd_queue(int argc, char **argv)
{
	return cmd_container(&ctypes[0], argc, argv);
}

int cmd_mvar(int argc, char **argv)
{
	return cmd_container(&ctypes[1], argc, argv);
}

int cmd_sem(int argc, char **argv)
{
	return cmd_container(&ctypes[2], argc, argv);
}

int cmd_map(int argc, char **argv)
{
	return cmd_container(&ctypes[3], argc, argv);
}

int cmd_keyset(int argc, char **argv)
{
	return cmd_container(&ctypes[4], argc, argv);
}

int cmd_array(int argc, char **argv)
{
	return cmd_container(&ctypes[5], argc, argv);
}
