// SPDX-License-Identifier: MIT
/*
 * ring.c - the ring: reads, commits, waits and single operations on one
 * store, many per system call, through io_uring (IORING_OP_URING_CMD with
 * the ioctl's number as cmd_op and the address and length of the ioctl's
 * struct as the payload; see uapi/linux/stmdev.h).
 *
 * Each operation lives in a slot from its prep until its completion is
 * reaped.  The slot owns everything the kernel reads or writes for it:
 * the command struct, its entries, copies of the keys and values, the read
 * buffers.  So the caller's memory is free as soon as prep returns, and
 * nothing the kernel may still write to is freed before its CQE.
 *
 * Prep only fills a slot; stm_ring_submit() writes the SQEs.  The
 * submission queue therefore never holds an operation the caller has not
 * submitted, and reaping can resubmit an operation on its own (a wait the
 * kernel bounded at one second, a read whose buffers were short) without
 * sending the caller's prepared operations early.  The SQ has as many
 * entries as the ring has slots, so there is always room for that.
 *
 * liburing 2.3 has no io_uring_prep_uring_cmd(): the SQE is built with
 * io_uring_prep_rw(IORING_OP_URING_CMD, ...), then cmd_op and the payload.
 *
 * Nothing outside this file calls into it (collections reach it through a
 * function pointer), so static programs that use no ring do not link
 * liburing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "devenc.h"

#define RING_MAX_ENTRIES 32768		/* IORING_MAX_ENTRIES */
#define RD_MIN_CAP	256		/* first guess of a value's size */
#define STACK_OPS	16
#define KEEP_MEM	65536		/* slot memory kept for reuse */
#define EINTR_ROUNDS	16		/* commits resent after -EINTR */

enum { SL_FREE, SL_PREPPED, SL_FLIGHT, SL_DONE };
enum { K_READ, K_REFRESH, K_COMMIT, K_COLL, K_FADD, K_WAIT };

/*
 * A wait's command struct, allocated apart from its slot: the kernel
 * writes the result (index) into it when the wait completes, which for a
 * wait abandoned by stm_ring_close() may be after the ring is gone.  Such
 * a struct is parked on a process-wide list instead of being freed.
 */
struct wait_buf {
	struct wait_buf   *next;
	struct stmdev_wait w;
};

/* An ADD entry whose result goes to the caller's int64_t. */
struct add_res {
	size_t   ent;
	int64_t *dst;
};

struct rslot {
	struct rslot    *next;		/* free list, prepared or done queue */
	uint32_t         id;
	uint8_t          state;		/* SL_* */
	uint8_t          kind;		/* K_* */
	bool             sent;		/* sent to the kernel at least once */
	uint64_t         tag;
	size_t           n;		/* entries */
	union {
		struct stmdev_read   rd;
		struct stmdev_commit cm;
	} u;
	struct wait_buf *wb;		/* K_WAIT */
	uint8_t         *mem;		/* entries, then copies of keys and values */
	size_t           memcap;
	void            *ents;		/* in mem */
	struct stm_coll *coll;		/* K_READ: ours; K_REFRESH, K_COLL: lent */
	struct stm_rd   *rd;		/* K_READ, K_REFRESH: in mem; bufs malloc'ed */
	unsigned         rounds;	/* E2BIG (reads) or EINTR (commits) resends */
	struct add_res  *res;		/* K_COMMIT: in mem */
	size_t           nres;
	int              timeout_ms;	/* K_WAIT */
	bool             last;		/* K_WAIT: deadline passed, check once more */
	int64_t          deadline;	/* K_WAIT, timeout_ms > 0: CLOCK_MONOTONIC ns */
};

struct stm_ring {
	struct stm_ring  *qnext;	/* parked (see ring_park) */
	struct stm_store *s;
	int               fd;		/* what the backend's ->ring gave */
	struct io_uring   uring;
	pid_t             pid;		/* the process that opened it */
	bool              bounded;	/* the kernel bounds async waits at 1 s */
	bool              closing;
	unsigned          nslots;
	struct rslot     *slots;
	struct rslot     *free;
	struct rslot     *prep, **prep_tail;
	struct rslot     *done, **done_tail;
	unsigned          flight;	/* slots in SL_FLIGHT */
	unsigned          busy;		/* of which not waits */
};

/* What the kernel may still write to after a close: never freed. */
static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wait_buf *parked_waits;
static struct stm_ring *parked_rings;

static const uint8_t empty_data[1];

#define uptr stm_uptr

static inline size_t al8(size_t x)
{
	return (x + 7) & ~(size_t)7;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- slots ---------------------------------------------------------------- */

static void ring_unlend(void *lent)
{
	struct rslot *sl = lent;

	sl->coll = NULL;	/* the collection is being freed: drop the result */
}

static void coll_lend(struct rslot *sl, struct stm_coll *c)
{
	sl->coll = c;
	c->lent = sl;
	c->unlend = ring_unlend;
}

static void coll_return(struct rslot *sl)
{
	if (!sl->coll)
		return;
	sl->coll->lent = NULL;
	sl->coll->unlend = NULL;
	sl->coll = NULL;
}

static int slot_get(struct stm_ring *r, struct rslot **out)
{
	struct rslot *sl = r->free;

	if (!sl)
		return -ENOBUFS;
	r->free = sl->next;
	sl->next = NULL;
	*out = sl;
	return 0;
}

/* Back to the free list, with everything the operation held. */
static void slot_put(struct stm_ring *r, struct rslot *sl)
{
	if (sl->rd)
		for (size_t i = 0; i < sl->n; i++)
			free(sl->rd[i].buf);
	if (sl->kind == K_READ)
		stm_coll_free(sl->coll);
	else
		coll_return(sl);
	free(sl->wb);
	if (sl->memcap > KEEP_MEM) {
		free(sl->mem);
		sl->mem = NULL;
		sl->memcap = 0;
	}
	sl->state = SL_FREE;
	sl->sent = false;
	sl->n = 0;
	sl->coll = NULL;
	sl->rd = NULL;
	sl->res = NULL;
	sl->nres = 0;
	sl->wb = NULL;
	sl->ents = NULL;
	sl->rounds = 0;
	sl->last = false;
	memset(&sl->u, 0, sizeof(sl->u));
	sl->next = r->free;
	r->free = sl;
}

/* At least @size bytes of slot memory (the slot is not in flight). */
static int slot_mem(struct rslot *sl, size_t size)
{
	void *m;

	if (size <= sl->memcap)
		return 0;
	m = realloc(sl->mem, size);
	if (!m)
		return -ENOMEM;
	sl->mem = m;
	sl->memcap = size;
	return 0;
}

static void slot_queue(struct stm_ring *r, struct rslot *sl, uint8_t kind,
		       uint64_t tag)
{
	sl->kind = kind;
	sl->tag = tag;
	sl->state = SL_PREPPED;
	sl->next = NULL;
	*r->prep_tail = sl;
	r->prep_tail = &sl->next;
}

static void done_queue(struct stm_ring *r, struct rslot *sl)
{
	sl->state = SL_DONE;
	sl->next = NULL;
	*r->done_tail = sl;
	r->done_tail = &sl->next;
}

/* ---- building commands ------------------------------------------------------ */

/*
 * A commit of @n entries into @sl: entries, keys and values copied into
 * slot memory.  ADD entries carry their 8-byte delta in op->val; with
 * STM_COP_FETCH the kernel writes the result over it.  @dst (or NULL):
 * per entry, where an ADD's result goes at completion.
 */
static int build_commit(struct rslot *sl, const struct stm_cop *ops, size_t n,
			unsigned flags, int64_t *const *dst)
{
	struct stmdev_commit_ent *ents;
	size_t size, nres = 0;
	uint8_t *p;
	int ret;

	size = al8(n * sizeof(*ents));
	for (size_t i = 0; i < n; i++) {
		size += al8(ops[i].klen) + al8(ops[i].vlen);
		if (dst && dst[i])
			nres++;
	}
	size += nres * sizeof(struct add_res);
	ret = slot_mem(sl, size ? size : 8);
	if (ret)
		return ret;
	ents = (struct stmdev_commit_ent *)sl->mem;
	p = sl->mem + al8(n * sizeof(*ents));
	sl->res = nres ? (struct add_res *)p : NULL;
	p += nres * sizeof(struct add_res);
	sl->nres = 0;
	for (size_t i = 0; i < n; i++) {
		const struct stm_cop *op = &ops[i];
		uint8_t *key = p, *val;

		memcpy(key, op->key, op->klen);
		p += al8(op->klen);
		val = p;
		if (op->vlen)
			memcpy(val, op->val, op->vlen);
		p += al8(op->vlen);
		if (dst && dst[i])
			sl->res[sl->nres++] = (struct add_res){ i, dst[i] };
		stm_enc_commit_ent(&ents[i], op, key,
				   op->op == STM_OP_PUT || op->op == STM_OP_ADD ? val : NULL,
				   dst && dst[i]);
	}
	sl->ents = ents;
	sl->n = n;
	memset(&sl->u.cm, 0, sizeof(sl->u.cm));
	sl->u.cm.entries = uptr(ents);
	sl->u.cm.count = n;
	sl->u.cm.flags = stm_enc_commit_flags((flags & STM_COMMIT_NONBLOCK_1_2) ?
					      STM_CM_NONBLOCK : 0);
	sl->u.cm.conflict = STMDEV_NO_CONFLICT;
	return 0;
}

/* A read of every value of @c: entries, key copies, fresh buffers. */
static int build_read(struct rslot *sl, struct stm_coll *c)
{
	struct stmdev_read_ent *ents;
	size_t n = c->n, size;
	uint8_t *p;
	int ret;

	size = al8(n * sizeof(*ents)) + al8(n * sizeof(struct stm_rd));
	for (size_t i = 0; i < n; i++)
		size += al8(c->vals[i].klen);
	ret = slot_mem(sl, size ? size : 8);
	if (ret)
		return ret;
	ents = (struct stmdev_read_ent *)sl->mem;
	sl->rd = (struct stm_rd *)(sl->mem + al8(n * sizeof(*ents)));
	p = (uint8_t *)sl->rd + al8(n * sizeof(struct stm_rd));
	sl->n = n;
	for (size_t i = 0; i < n; i++) {
		const struct stm_value *v = &c->vals[i];
		uint32_t cap = v->cap > RD_MIN_CAP ? v->cap : RD_MIN_CAP;

		memcpy(p, v->key, v->klen);
		sl->rd[i] = (struct stm_rd){ .key = p, .klen = v->klen, .cap = cap };
		p += al8(v->klen);
	}
	sl->ents = ents;
	for (size_t i = 0; i < n; i++) {
		sl->rd[i].buf = malloc(sl->rd[i].cap);
		if (!sl->rd[i].buf)
			return -ENOMEM;		/* slot_put frees the others */
	}
	return 0;
}

/* Before each send: the command's in fields, and out fields cleared. */
static void arm_read(struct rslot *sl)
{
	struct stmdev_read_ent *ents = sl->ents;

	stm_enc_read(ents, sl->rd, sl->n);
	memset(&sl->u.rd, 0, sizeof(sl->u.rd));
	sl->u.rd.entries = uptr(ents);
	sl->u.rd.count = sl->n;
}

static void arm_wait(struct rslot *sl, int64_t now)
{
	struct stmdev_wait *w = &sl->wb->w;
	int64_t timeout = -1;

	if (sl->timeout_ms == 0 || sl->last) {
		timeout = 0;
	} else if (sl->timeout_ms > 0) {
		if (!sl->sent)
			sl->deadline = now + (int64_t)sl->timeout_ms * 1000000;
		timeout = sl->deadline - now;
		if (timeout < 1)
			timeout = 1;
	}
	w->timeout_ns = timeout;
	w->index = 0;
	w->family = 0;
	w->reserved = 0;
}

/* Write @sl's SQE.  The SQ has room: it is as large as the ring. */
static int slot_send(struct stm_ring *r, struct rslot *sl, int64_t now)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);
	struct stmdev_uring_cmd *p;
	unsigned op;
	void *arg;
	__u32 len;

	if (!sqe)
		return -EBUSY;
	switch (sl->kind) {
	case K_READ:
	case K_REFRESH:
		arm_read(sl);
		op = STMDEV_IOC_READ;
		arg = &sl->u.rd;
		len = sizeof(sl->u.rd);
		break;
	case K_WAIT:
		arm_wait(sl, now);
		op = STMDEV_IOC_WAIT;
		arg = &sl->wb->w;
		len = sizeof(sl->wb->w);
		break;
	default:
		sl->u.cm.version = 0;
		sl->u.cm.conflict = STMDEV_NO_CONFLICT;
		op = STMDEV_IOC_COMMIT;
		arg = &sl->u.cm;
		len = sizeof(sl->u.cm);
		break;
	}
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, r->fd, NULL, 0, 0);
	sqe->cmd_op = op;
	p = (struct stmdev_uring_cmd *)sqe->cmd;
	p->addr = uptr(arg);
	p->len = len;
	p->flags = 0;
	io_uring_sqe_set_data64(sqe, (__u64)sl->id);
	sl->sent = true;
	sl->state = SL_FLIGHT;
	r->flight++;
	if (sl->kind != K_WAIT)
		r->busy++;
	return 0;
}

/* ---- completions -------------------------------------------------------------- */

/* After a short read (E2BIG): grow the buffers the kernel said were short. */
static bool read_grow(struct stm_ring *r, struct rslot *sl)
{
	const struct stmdev_read_ent *ents = sl->ents;

	for (size_t i = 0; i < sl->n; i++)
		sl->rd[i].len = ents[i].val_len;
	return stm_rd_grow(r->s, sl->rd, sl->n, sl->rounds - 1) > 0;
}

static int read_done(struct rslot *sl, struct stm_cqe *cqe)
{
	const struct stmdev_read_ent *ents = sl->ents;
	struct stm_coll *c = sl->coll;

	stm_dec_read(sl->rd, ents, sl->n);
	for (size_t i = 0; i < sl->n; i++)
		if (sl->rd[i].len > sl->rd[i].cap)	/* the kernel broke its word */
			return -EPROTO;
	cqe->version = sl->u.rd.clock;
	if (!c)			/* lent, then freed */
		return 0;
	for (size_t i = 0; i < sl->n; i++)
		stm_value_take(&c->vals[i], &sl->rd[i]);
	c->clock = sl->u.rd.clock;
	c->conflict = NULL;
	return 0;
}

static void commit_done(struct rslot *sl, int res, struct stm_cqe *cqe)
{
	const struct stmdev_commit_ent *ents = sl->ents;
	struct stm_coll *c = sl->coll;

	if (res == -ESTALE || res == -ERANGE)
		cqe->conflict = sl->u.cm.conflict;
	if (c)
		c->conflict = (res == -ESTALE && sl->u.cm.conflict < c->n) ?
			      &c->vals[sl->u.cm.conflict] : NULL;
	if (res)
		return;
	cqe->version = sl->u.cm.version;
	for (size_t i = 0; i < sl->nres; i++)
		*sl->res[i].dst = stm_get_le64((const void *)(uintptr_t)
					       ents[sl->res[i].ent].val_addr);
	if (sl->kind == K_FADD)
		cqe->value = stm_get_le64((const void *)(uintptr_t)ents[0].val_addr);
	if (c)
		for (size_t i = 0; i < c->n; i++)
			stm_value_committed(&c->vals[i], sl->u.cm.version);
}

/*
 * The kernel (or, for an operation that needed none, the library)
 * finished @sl with @res.  Returns false when the operation was sent
 * again (a bounded wait re-armed, a short read retried): nothing to
 * report yet.  Otherwise fills @cqe; the caller then frees the slot.
 */
static bool slot_complete(struct stm_ring *r, struct rslot *sl, int res,
			  struct stm_cqe *cqe)
{
	memset(cqe, 0, sizeof(*cqe));
	cqe->tag = sl->tag;
	cqe->conflict = STM_NO_CONFLICT;

	switch (sl->kind) {
	case K_READ:
	case K_REFRESH:
		if (res == -E2BIG && !r->closing && ++sl->rounds < STM_RD_MAX_ROUNDS &&
		    read_grow(r, sl) && slot_send(r, sl, 0) == 0)
			return false;
		if (res == 0)
			res = read_done(sl, cqe);
		if (sl->kind == K_READ && res == 0 && !r->closing) {
			cqe->coll = sl->coll;	/* the caller's now */
			sl->coll = NULL;
		} else if (sl->kind == K_REFRESH) {
			cqe->coll = sl->coll;
			coll_return(sl);
		}
		break;
	case K_WAIT:
		/*
		 * A kernel that bounds async waits said ETIMEDOUT: if that was
		 * its bound, not the caller's time, wait again for the rest
		 * (the versions are the caller's, so a change meanwhile is
		 * seen at once).  Once the caller's time is up, ask once more
		 * with timeout 0: a change between the kernel's bound and now
		 * (a late reap) then still counts, as it would have in time.
		 */
		if (res == -ETIMEDOUT && r->bounded && !r->closing &&
		    sl->wb->w.timeout_ns != 0) {
			int64_t now = now_ns();

			if (sl->timeout_ms > 0 && now >= sl->deadline)
				sl->last = true;
			if (slot_send(r, sl, now) == 0)
				return false;
		}
		if (res == 0) {
			cqe->index = sl->wb->w.index;
			res = cqe->index < sl->n ? (int)cqe->index : -EPROTO;
		}
		break;
	default:
		/*
		 * -EINTR: the kernel saw a signal pending while the commit
		 * waited or retried, and changed nothing.  No signal is
		 * meant for a ring operation (the submitting thread's pending
		 * io_uring task work counts as one during an inline issue), so
		 * the commit goes again, a bounded number of times.
		 */
		if (res == -EINTR && ++sl->rounds < EINTR_ROUNDS &&
		    slot_send(r, sl, 0) == 0)
			return false;
		commit_done(sl, res, cqe);
		if (sl->kind == K_COLL) {
			cqe->coll = sl->coll;
			coll_return(sl);
		}
		break;
	}
	cqe->result = res;
	return true;
}

/* Push SQEs written but not yet taken by the kernel (errors: next time). */
static void ring_flush(struct stm_ring *r)
{
	if (io_uring_sq_ready(&r->uring))
		io_uring_submit(&r->uring);
}

/* Up to @max completions ready now, without blocking. */
static unsigned reap_ready(struct stm_ring *r, struct stm_cqe *out, unsigned max)
{
	struct io_uring_cqe *cqe;
	unsigned got = 0;

	while (got < max && r->done) {
		struct rslot *sl = r->done;

		r->done = sl->next;
		if (!r->done)
			r->done_tail = &r->done;
		slot_complete(r, sl, 0, &out[got++]);
		slot_put(r, sl);
	}
	while (got < max && io_uring_peek_cqe(&r->uring, &cqe) == 0) {
		__u64 id = io_uring_cqe_get_data64(cqe);
		int res = cqe->res;
		struct rslot *sl;

		io_uring_cqe_seen(&r->uring, cqe);
		if (id >= r->nslots || r->slots[id].state != SL_FLIGHT)
			continue;	/* not ours: cannot happen */
		sl = &r->slots[id];
		r->flight--;
		if (sl->kind != K_WAIT)
			r->busy--;
		if (slot_complete(r, sl, res, &out[got])) {
			got++;
			slot_put(r, sl);
		}
	}
	ring_flush(r);
	return got;
}

/* ---- the public functions ------------------------------------------------------ */

int stm_ring_open(struct stm_store *s, unsigned entries, unsigned flags,
		  struct stm_ring **out)
{
	struct stm_ring *r;
	bool bounded = false;
	int fd, ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!s || !entries || entries > RING_MAX_ENTRIES || flags)
		return -EINVAL;
	/* The backend says whether it has a ring and which fd serves it. */
	fd = s->be->ring ? s->be->ring(s, &bounded) : -EOPNOTSUPP;
	if (fd < 0)
		return fd;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->slots = calloc(entries, sizeof(*r->slots));
	if (!r->slots) {
		free(r);
		return -ENOMEM;
	}
	ret = io_uring_queue_init(entries, &r->uring, 0);
	if (ret < 0) {
		free(r->slots);
		free(r);
		return ret;
	}
	r->s = s;
	r->fd = fd;
	r->pid = getpid();
	r->bounded = bounded;
	r->nslots = entries;
	for (unsigned i = entries; i-- > 0;) {
		r->slots[i].id = i;
		r->slots[i].next = r->free;
		r->free = &r->slots[i];
	}
	r->prep_tail = &r->prep;
	r->done_tail = &r->done;
	*out = r;
	return 0;
}

/* Keep what the kernel may still write to for the life of the process. */
static void park_wait(struct wait_buf *wb)
{
	pthread_mutex_lock(&park_lock);
	wb->next = parked_waits;
	parked_waits = wb;
	pthread_mutex_unlock(&park_lock);
}

static void park_ring(struct stm_ring *r)
{
	pthread_mutex_lock(&park_lock);
	r->qnext = parked_rings;
	parked_rings = r;
	pthread_mutex_unlock(&park_lock);
}

static void ring_free(struct stm_ring *r)
{
	for (unsigned i = 0; i < r->nslots; i++) {
		struct rslot *sl = &r->slots[i];

		if (sl->state != SL_FREE)
			slot_put(r, sl);
		free(sl->mem);
	}
	free(r->slots);
	free(r);
}

void stm_ring_close(struct stm_ring *r)
{
	struct stm_cqe scratch[16];
	struct rslot *sl;

	if (!r)
		return;
	r->closing = true;
	if (r->pid != getpid()) {
		/* A child's copy: the kernel works for the parent, on the
		 * parent's memory.  Let go of this copy's mappings only. */
		io_uring_queue_exit(&r->uring);
		ring_free(r);
		return;
	}
	while ((sl = r->prep)) {
		r->prep = sl->next;
		slot_put(r, sl);
	}
	r->prep_tail = &r->prep;
	/* Reads and commits in flight write into slot memory: let them end.
	 * Their results reach lent collections as reaping would; the
	 * completions are dropped (a read's new collection with its slot). */
	for (;;) {
		int ret;

		while (reap_ready(r, scratch, 16))
			;
		if (!r->busy)
			break;
		ret = io_uring_submit_and_wait(&r->uring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN) {
			/* Cannot tell when the kernel is done: keep it all. */
			io_uring_queue_exit(&r->uring);
			park_ring(r);
			return;
		}
	}
	/* Waits still pending are abandoned; the kernel may yet write their
	 * index (on cancelation, or their one-second bound). */
	for (unsigned i = 0; i < r->nslots; i++) {
		sl = &r->slots[i];
		if (sl->state == SL_FLIGHT && sl->kind == K_WAIT) {
			park_wait(sl->wb);
			sl->wb = NULL;
		}
	}
	io_uring_queue_exit(&r->uring);
	ring_free(r);
}

int stm_ring_fd(const struct stm_ring *r)
{
	return r ? r->uring.ring_fd : -EINVAL;
}

/* ---- reads -------------------------------------------------------------- */

static int prep_read(struct stm_ring *r, struct stm_coll *c, uint8_t kind,
		     uint64_t tag)
{
	struct rslot *sl;
	int ret;

	ret = slot_get(r, &sl);
	if (ret)
		return ret;
	sl->kind = kind;
	ret = build_read(sl, c);
	if (ret) {
		slot_put(r, sl);	/* frees the buffers allocated */
		return ret;
	}
	if (kind == K_READ)
		sl->coll = c;
	else
		coll_lend(sl, c);
	/* An empty collection has nothing to read: it completes at submit. */
	slot_queue(r, sl, kind, tag);
	return 0;
}

int stm_ring_prep_read_n(struct stm_ring *r, const void *const *keys,
			 const size_t *lens, size_t n, uint64_t tag)
{
	struct stm_coll *c;
	int ret;

	if (!r || (n && (!keys || !lens)))
		return -EINVAL;
	if (!r->free)
		return -ENOBUFS;
	ret = stm_coll_new(r->s, keys, lens, n, &c);
	if (ret)
		return ret;
	ret = prep_read(r, c, K_READ, tag);
	if (ret)
		stm_coll_free(c);
	return ret;
}

int stm_ring_prep_read(struct stm_ring *r, const char *const *keys, size_t n,
		       uint64_t tag)
{
	size_t stack[STACK_OPS], *lens;
	int ret;

	if (!r || (n && !keys))
		return -EINVAL;
	lens = stm_key_lens(keys, n, stack, STACK_OPS);
	if (!lens)
		return -ENOMEM;
	ret = stm_ring_prep_read_n(r, (const void *const *)keys, lens, n, tag);
	stm_key_lens_put(lens, stack);
	return ret;
}

int stm_ring_prep_refresh(struct stm_ring *r, struct stm_coll *c, uint64_t tag)
{
	if (!r || !c || c->store != r->s)
		return -EINVAL;
	if (c->lent)
		return -EALREADY;
	return prep_read(r, c, K_REFRESH, tag);
}

/* ---- commits ------------------------------------------------------------ */

static int prep_commit(struct stm_ring *r, uint8_t kind, const struct stm_cop *ops,
		       size_t n, unsigned flags, int64_t *const *dst, uint64_t tag,
		       struct rslot **out)
{
	struct rslot *sl;
	int ret;

	ret = slot_get(r, &sl);
	if (ret)
		return ret;
	sl->kind = kind;
	ret = build_commit(sl, ops, n, flags, dst);
	if (ret) {
		sl->n = 0;
		slot_put(r, sl);
		return ret;
	}
	slot_queue(r, sl, kind, tag);
	if (out)
		*out = sl;
	return 0;
}

int stm_ring_prep_commit_coll(struct stm_ring *r, struct stm_coll *c, uint64_t tag)
{
	struct stm_cop stack[STACK_OPS], *ops = stack;
	struct rslot *sl;
	int ret;

	if (!r || !c || c->store != r->s)
		return -EINVAL;
	if (c->lent)
		return -EALREADY;
	if (r->s->flags & STM_RDONLY)
		for (size_t i = 0; i < c->n; i++)
			if (c->vals[i].state != STM_V_CLEAN)
				return -EBADF;
	if (!r->free)
		return -ENOBUFS;
	if (c->n > STACK_OPS) {
		ops = calloc(c->n, sizeof(*ops));
		if (!ops)
			return -ENOMEM;
	}
	for (size_t i = 0; i < c->n; i++)
		stm_value_cop(&c->vals[i], &ops[i]);
	/* c->n == 0 builds an empty commit: it completes at submit with 0,
	 * as stm_coll_commit() returns 0 without asking the store. */
	ret = prep_commit(r, K_COLL, c->n ? ops : NULL, c->n, 0, NULL, tag, &sl);
	if (ret == 0)
		coll_lend(sl, c);
	if (ops != stack)
		free(ops);
	return ret;
}

int stm_ring_prep_commit(struct stm_ring *r, const struct stm_op *ops, size_t n,
			 unsigned flags, uint64_t tag)
{
	struct stm_cop stack[STACK_OPS], *cops = stack;
	int64_t *sdst[STACK_OPS], **dst = sdst;
	uint8_t sle[STACK_OPS][24], (*le)[24] = sle;
	bool results = false;
	int ret;

	if (!r || !ops || !n || (flags & ~(STM_NONBLOCK | STM_COMMIT_NONBLOCK_1_2)))
		return -EINVAL;
	if (r->s->lim.max_keys_per_call && n > r->s->lim.max_keys_per_call)
		return -E2BIG;
	if (!r->free)
		return -ENOBUFS;
	if (n > STACK_OPS) {
		cops = calloc(n, sizeof(*cops));
		dst = calloc(n, sizeof(*dst));
		le = calloc(n, sizeof(*le));
		ret = -ENOMEM;
		if (!cops || !dst || !le)
			goto out_free;
	}
	ret = stm_ops_check(r->s, ops, n, cops, le);
	if (ret)
		goto out_free;
	for (size_t i = 0; i < n; i++) {
		dst[i] = ops[i].result;
		results |= ops[i].result != NULL;
	}
	ret = prep_commit(r, K_COMMIT, cops, n, flags ? STM_COMMIT_NONBLOCK_1_2 : 0,
			  results ? dst : NULL, tag, NULL);
out_free:
	if (cops != stack)
		free(cops);
	if (dst != sdst)
		free(dst);
	if (le != sle)
		free(le);
	return ret;
}

/* ---- single operations ------------------------------------------------------ */

static int prep_write1(struct stm_ring *r, const void *key, size_t klen, bool check,
		       uint64_t expected_version, const void *data, size_t len,
		       uint64_t tag)
{
	struct stm_store *s;
	struct stm_cop op;
	int ret;

	if (!r || (!data && len))
		return -EINVAL;
	s = r->s;
	ret = stm_check_key(s, key, klen);
	if (ret)
		return ret;
	if (len > UINT32_MAX || (s->lim.max_value_size && len > s->lim.max_value_size))
		return -E2BIG;
	if (s->flags & STM_RDONLY)
		return -EBADF;
	op = (struct stm_cop){ .key = key, .klen = klen, .op = STM_OP_PUT,
			       .flags = check ? STM_COP_CHECK : 0,
			       .version = expected_version,
			       .val = data ? data : empty_data, .vlen = len };
	return prep_commit(r, K_COMMIT, &op, 1, 0, NULL, tag, NULL);
}

int stm_ring_prep_cas_n(struct stm_ring *r, const void *key, size_t klen,
			uint64_t expected_version, const void *data, size_t len,
			uint64_t tag)
{
	return prep_write1(r, key, klen, true, expected_version, data, len, tag);
}

int stm_ring_prep_cas(struct stm_ring *r, const char *key,
		      uint64_t expected_version, const void *data, size_t len,
		      uint64_t tag)
{
	if (!key)
		return -EINVAL;
	return prep_write1(r, key, stm_key_len(key), true, expected_version, data,
			   len, tag);
}

int stm_ring_prep_put_n(struct stm_ring *r, const void *key, size_t klen,
			const void *data, size_t len, uint64_t tag)
{
	return prep_write1(r, key, klen, false, 0, data, len, tag);
}

int stm_ring_prep_put(struct stm_ring *r, const char *key, const void *data,
		      size_t len, uint64_t tag)
{
	if (!key)
		return -EINVAL;
	return prep_write1(r, key, stm_key_len(key), false, 0, data, len, tag);
}

int stm_ring_prep_fetch_add_n(struct stm_ring *r, const void *key, size_t klen,
			      int64_t delta, uint64_t tag)
{
	uint8_t d[8];
	struct stm_cop op;
	int ret;

	if (!r)
		return -EINVAL;
	ret = stm_check_key(r->s, key, klen);
	if (ret)
		return ret;
	if (r->s->flags & STM_RDONLY)
		return -EBADF;
	stm_put_le64(d, delta);
	op = (struct stm_cop){ .key = key, .klen = klen, .op = STM_OP_ADD,
			       .flags = STM_COP_FETCH, .val = d, .vlen = 8 };
	return prep_commit(r, K_FADD, &op, 1, 0, NULL, tag, NULL);
}

int stm_ring_prep_fetch_add(struct stm_ring *r, const char *key, int64_t delta,
			    uint64_t tag)
{
	if (!key)
		return -EINVAL;
	return stm_ring_prep_fetch_add_n(r, key, stm_key_len(key), delta, tag);
}

/* ---- waits ------------------------------------------------------------------ */

int stm_ring_prep_wait_n(struct stm_ring *r, const void *const *keys,
			 const size_t *lens, const uint64_t *versions, size_t n,
			 unsigned flags, int timeout_ms, uint64_t tag)
{
	struct stmdev_wait_ent *ents;
	struct stm_store *s;
	struct rslot *sl;
	size_t size;
	uint8_t *p;
	int ret;

	if (!r || !n || !versions || !keys || !lens || (flags & ~STM_WAIT_ALL))
		return -EINVAL;
	s = r->s;
	if (s->lim.max_keys_per_call && n > s->lim.max_keys_per_call)
		return -E2BIG;
	size = al8(n * sizeof(*ents));
	for (size_t i = 0; i < n; i++) {
		ret = stm_check_key(s, keys[i], lens[i]);
		if (ret)
			return ret;
		size += al8(lens[i]);
	}
	ret = slot_get(r, &sl);
	if (ret)
		return ret;
	sl->kind = K_WAIT;
	ret = slot_mem(sl, size);
	if (!ret) {
		sl->wb = calloc(1, sizeof(*sl->wb));
		if (!sl->wb)
			ret = -ENOMEM;
	}
	if (ret) {
		slot_put(r, sl);
		return ret;
	}
	ents = (struct stmdev_wait_ent *)sl->mem;
	p = sl->mem + al8(n * sizeof(*ents));
	for (size_t i = 0; i < n; i++) {
		struct stm_wkey k = { p, lens[i], versions[i] };

		memcpy(p, keys[i], lens[i]);
		stm_enc_wait(&ents[i], &k, 1);
		p += al8(lens[i]);
	}
	sl->ents = ents;
	sl->n = n;
	sl->timeout_ms = timeout_ms;
	sl->wb->w.entries = uptr(ents);
	sl->wb->w.count = n;
	sl->wb->w.flags = stm_enc_wait_flags(flags & STM_WAIT_ALL ? STM_WT_ALL : 0);
	slot_queue(r, sl, K_WAIT, tag);
	return 0;
}

int stm_ring_prep_wait(struct stm_ring *r, const char *const *keys,
		       const uint64_t *versions, size_t n, unsigned flags,
		       int timeout_ms, uint64_t tag)
{
	size_t stack[STACK_OPS], *lens;
	int ret;

	if (!r || !keys || !n)
		return -EINVAL;
	lens = stm_key_lens(keys, n, stack, STACK_OPS);
	if (!lens)
		return -ENOMEM;
	ret = stm_ring_prep_wait_n(r, (const void *const *)keys, lens, versions, n,
				   flags, timeout_ms, tag);
	stm_key_lens_put(lens, stack);
	return ret;
}

/* ---- submitting and reaping ------------------------------------------------- */

int stm_ring_submit(struct stm_ring *r)
{
	struct rslot *sl;
	int64_t now = 0;
	int sent = 0, ret;

	if (!r)
		return -EINVAL;
	while ((sl = r->prep)) {
		if (sl->kind == K_WAIT && sl->timeout_ms > 0 && !now)
			now = now_ns();
		if (sl->n == 0) {
			/* Nothing to ask the store (an empty collection). */
			r->prep = sl->next;
			done_queue(r, sl);
		} else {
			if (slot_send(r, sl, now))
				break;		/* no SQE: cannot happen */
			r->prep = sl->next;
		}
		sent++;
	}
	if (!r->prep)
		r->prep_tail = &r->prep;
	if (io_uring_sq_ready(&r->uring)) {
		ret = io_uring_submit(&r->uring);
		if (ret < 0)
			return ret;
	}
	return sent;
}

int stm_ring_reap(struct stm_ring *r, struct stm_cqe *out, unsigned max,
		  unsigned min_wait)
{
	unsigned got = 0;
	int ret;

	if (!r || (max && !out))
		return -EINVAL;
	if (min_wait > max)
		min_wait = max;
	for (;;) {
		got += reap_ready(r, out + got, max - got);
		if (got >= min_wait || got == max)
			break;
		if (!r->flight && !r->done)
			break;		/* nothing more can complete */
		if (r->done)
			continue;
		ret = io_uring_submit_and_wait(&r->uring, 1);
		if (ret < 0 && ret != -EAGAIN) {
			if (got)
				break;
			return ret;
		}
	}
	return (int)got;
}
