// SPDX-License-Identifier: GPL-2.0
/*
 * ucore: the userspace context of the core (see ucore.h).  RCU as a
 * small epoch scheme, allocation (slab caches too) and user
 * copies with injection hooks, and the few symbols the core files take from
 * files that are not compiled here (main.c's parameters, store.c's name
 * check, wait.c's wake).
 */
#include <sched.h>
#include "ucore.h"
#include "ucore_test.h"
#include "stm.h"
#include "debug.h"

/* main.c's module parameters, at their defaults. */
unsigned int stm_max_value_size = 64 << 10;
unsigned int stm_max_keys_per_store = 1 << 20;
unsigned long stm_max_bytes_per_store = 64UL << 20;
unsigned int stm_max_stores = 1024;
unsigned int stm_max_keys_per_call = 1024;
unsigned int stm_max_stores_per_user = 32;
unsigned long stm_max_keys_per_user = 1UL << 20;
unsigned long stm_max_mem_per_user = 256UL << 20;
unsigned int stm_max_waits_per_fd = 4096;
unsigned int stm_max_waits_per_user = 65536;

__thread int ucore_fatal_signal;
__thread struct ucore_hooks ucore_hooks;
long ucore_warnings;
int ucore_warn_fatal;

void ucore_warn(const char *file, int line, const char *cond)
{
	__atomic_fetch_add(&ucore_warnings, 1, __ATOMIC_RELAXED);
	fprintf(stderr, "ucore: WARNING at %s:%d: %s\n", file, line, cond);
	if (ucore_warn_fatal)
		abort();
}

/* ---- per-thread state: RCU slot, "CPU", random stream ---- */

#define UCORE_MAX_THREADS	256

struct ucore_thread {
	u64 ctr;			/* 0: outside; else the epoch it entered */
	int used;
	int nest;
	u32 ncb;
	struct rcu_head *cbs, **cbtail;
};

static struct ucore_thread ucore_threads[UCORE_MAX_THREADS];
static u64 ucore_gp = 1;
static __thread struct ucore_thread *ucore_self;
static __thread int ucore_self_id = -1;
static int ucore_next_id;

static struct ucore_thread *ucore_me(void)
{
	int i;

	if (likely(ucore_self))
		return ucore_self;
	for (i = 0; i < UCORE_MAX_THREADS; i++) {
		int zero = 0;

		if (__atomic_compare_exchange_n(&ucore_threads[i].used, &zero, 1,
						false, __ATOMIC_SEQ_CST,
						__ATOMIC_RELAXED))
			break;
	}
	BUG_ON(i == UCORE_MAX_THREADS);
	ucore_self = &ucore_threads[i];
	ucore_self->cbs = NULL;
	ucore_self->cbtail = &ucore_self->cbs;
	ucore_self->ncb = 0;
	ucore_self->nest = 0;
	ucore_self_id = __atomic_fetch_add(&ucore_next_id, 1, __ATOMIC_RELAXED);
	return ucore_self;
}

int ucore_cpu(void)
{
	ucore_me();
	return ucore_self_id % UCORE_NR_CPUS;
}

u64 ucore_rand(void)
{
	/* xorshift64*, per thread */
	u64 x = ucore_hooks.rng;

	if (!x)
		x = 0x9e3779b97f4a7c15ULL ^ (u64)(uintptr_t)&ucore_hooks;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	ucore_hooks.rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* ---- RCU ---- */

/* Callbacks a thread queues before its next quiescent state runs them. */
#define UCORE_RCU_BATCH	64

static void ucore_rcu_flush(struct ucore_thread *t);

void rcu_read_lock(void)
{
	struct ucore_thread *t = ucore_me();

	if (t->nest++)
		return;
	/* Enter the current epoch, then a full fence before any pointer. */
	__atomic_store_n(&t->ctr, __atomic_load_n(&ucore_gp, __ATOMIC_SEQ_CST),
			 __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void rcu_read_unlock(void)
{
	struct ucore_thread *t = ucore_self;

	BUG_ON(!t || t->nest <= 0);
	if (--t->nest)
		return;
	__atomic_store_n(&t->ctr, 0, __ATOMIC_RELEASE);
}

/* Wait until every reader inside a section older than now has left it. */
void synchronize_rcu(void)
{
	struct ucore_thread *t = ucore_me();
	u64 g;
	int i;

	BUG_ON(t->nest);	/* would wait for itself */
	g = __atomic_add_fetch(&ucore_gp, 1, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (i = 0; i < UCORE_MAX_THREADS; i++) {
		struct ucore_thread *o = &ucore_threads[i];
		u64 c;

		if (o == t || !__atomic_load_n(&o->used, __ATOMIC_ACQUIRE))
			continue;
		while ((c = __atomic_load_n(&o->ctr, __ATOMIC_ACQUIRE)) && c < g)
			sched_yield();
	}
}

static void ucore_rcu_flush(struct ucore_thread *t)
{
	struct rcu_head *h = t->cbs, *next;

	if (!h)
		return;
	t->cbs = NULL;
	t->cbtail = &t->cbs;
	t->ncb = 0;
	synchronize_rcu();
	for (; h; h = next) {
		next = h->next;
		if (h->func)
			h->func(h);
		else
			free((char *)h - h->off);
	}
}

void call_rcu(struct rcu_head *head, rcu_callback_t func)
{
	struct ucore_thread *t = ucore_me();

	head->next = NULL;
	head->func = func;
	head->off = 0;
	*t->cbtail = head;
	t->cbtail = &head->next;
	t->ncb++;
}

/*
 * A quiescent state of the caller, between two commands: it holds no key
 * and is in no read-side section.  Runs its callbacks once enough queued
 * (call_rcu() itself never blocks, as in the kernel).
 */
void ucore_quiescent(void)
{
	struct ucore_thread *t = ucore_me();

	if (t->ncb >= UCORE_RCU_BATCH)
		ucore_rcu_flush(t);
}

void ucore_kfree_rcu(struct rcu_head *head, size_t off)
{
	call_rcu(head, NULL);
	head->off = off;
}

/* This thread's callbacks, all run (the harness calls it before exit). */
void rcu_barrier(void)
{
	ucore_rcu_flush(ucore_me());
}

void ucore_thread_exit(void)
{
	struct ucore_thread *t = ucore_self;

	if (!t)
		return;
	ucore_rcu_flush(t);
	__atomic_store_n(&t->ctr, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&t->used, 0, __ATOMIC_RELEASE);
	ucore_self = NULL;
}

/* ---- allocation ---- */

static bool ucore_inject(u32 one_in)
{
	return one_in && !ucore_hooks.no_inject && ucore_rand() % one_in == 0;
}

void *ucore_alloc(size_t size, gfp_t gfp)
{
	void *p;

	if (size == SIZE_MAX || ucore_inject(ucore_hooks.fail_alloc)) {
		ucore_hooks.injected++;
		return NULL;
	}
	p = malloc(size ? size : 1);
	if (p && (gfp & __GFP_ZERO))
		memset(p, 0, size);
	return p;
}

void ucore_free(const void *p)
{
	free((void *)p);
}

struct kmem_cache *kmem_cache_create(const char *name, unsigned int size,
				     unsigned int align, unsigned long flags,
				     void (*ctor)(void *))
{
	struct kmem_cache *c = calloc(1, sizeof(*c));

	if (c)
		c->size = ALIGN((size_t)size, align ? align : 8);
	return c;
}

void kmem_cache_destroy(struct kmem_cache *c)
{
	free(c);
}

size_t kmalloc_size_roundup(size_t size)
{
	size_t r = 8;

	if (size > KMALLOC_MAX_SIZE)
		return size;
	while (r < size)
		r <<= 1;
	return r;
}

/* ---- user memory ---- */

size_t ucore_user_bad(const void *p, size_t n, bool write, bool nofault)
{
	uintptr_t a = (uintptr_t)p;

	if (!n)
		return 0;
	if (ucore_hooks.user_hi) {
		/* Only the harness's arena is "mapped". */
		if (a < ucore_hooks.user_lo || a > ucore_hooks.user_hi ||
		    n > ucore_hooks.user_hi - a)
			return n;
		if (write && ucore_hooks.ro_hi && a < ucore_hooks.ro_hi &&
		    a + n > ucore_hooks.ro_lo)
			return n;
	}
	if (ucore_inject(ucore_hooks.fail_copy))
		return n;
	if (nofault && ucore_inject(ucore_hooks.fail_nofault))
		return n;
	return 0;
}

unsigned long copy_from_user(void *to, const void *from, unsigned long n)
{
	if (ucore_user_bad(from, n, false, false))
		return n;
	if (n)
		memcpy(to, from, n);
	return 0;
}

unsigned long copy_to_user(void *to, const void *from, unsigned long n)
{
	if (ucore_user_bad(to, n, true, false))
		return n;
	if (n)
		memcpy(to, from, n);
	return 0;
}

long copy_to_user_nofault(void *to, const void *from, size_t n)
{
	if (ucore_user_bad(to, n, true, true))
		return -EFAULT;
	if (n)
		memcpy(to, from, n);
	return 0;
}

size_t fault_in_writeable(char *p, size_t n)
{
	u32 saved = ucore_hooks.fail_copy;
	size_t bad;

	/* Faulting in is what resolves an injected nofault failure. */
	ucore_hooks.fail_copy = 0;
	bad = ucore_user_bad(p, n, true, false);
	ucore_hooks.fail_copy = saved;
	return bad;
}

/* ---- strings, sort, hash ---- */

void *memchr_inv(const void *p, int c, size_t n)
{
	const u8 *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != (u8)c)
			return (void *)(b + i);
	return NULL;
}

ssize_t strscpy(char *dst, const char *src, size_t n)
{
	size_t len = strnlen(src, n);

	if (!n)
		return -E2BIG;
	if (len == n) {
		memcpy(dst, src, n - 1);
		dst[n - 1] = 0;
		return -E2BIG;
	}
	memcpy(dst, src, len + 1);
	return len;
}

void sort(void *base, size_t num, size_t size,
	  int (*cmp)(const void *, const void *),
	  void (*swap)(void *, void *, int))
{
	BUG_ON(swap);
	qsort(base, num, size, cmp);
}

/* Not the kernel's jhash: any good 32-bit hash of (bytes, seed) will do. */
u32 jhash(const void *key, u32 length, u32 initval)
{
	const u8 *p = key;
	u64 h = 0xcbf29ce484222325ULL ^ initval;
	u32 i;

	for (i = 0; i < length; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (u32)h;
}

/* ---- what the core takes from files not built here ---- */

/* store.c's contract: 1..63 bytes of [A-Za-z0-9._-]. */
bool stm_name_ok(const char *name, size_t len)
{
	size_t i;

	if (!len || len >= STMDEV_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* wait.c is not built yet: count the wakes a commit asks for. */
void stm_wake_key(struct stm_store *s, u32 hash)
{
	ucore_hooks.wakes++;
}

/*
 * reserve.c is not built: nobody reserves (s->nresv stays 0), so a commit
 * never gets past stm_resv_any(); these only satisfy the linker.
 */
int stm_resv_check(struct stm_store *s, const struct stm_file *f,
		   const struct stm_kref *kr, size_t stride, u32 n,
		   u64 *until, u32 *gen)
{
	return -1;
}

int stm_resv_wait(struct stm_store *s, u64 until, u32 gen)
{
	return 0;
}

void stm_resv_release(struct stm_file *f)
{
}

/*
 * debug.h's race-window sites (built with STM_DEBUG): widen the window
 * now and then by yielding the CPU, as the kernel's knob sleeps or spins.
 */
void stm_debug_delay(enum stm_debug_site site, bool atomic)
{
	u32 one_in = ucore_hooks.delay_one_in;

	if (one_in && ucore_rand() % one_in == 0) {
		ucore_hooks.delays++;
		sched_yield();
	}
}

/*
 * A store as store.c makes one, reduced to what the core uses (no name,
 * namespace or registry), owned by the user @uid.
 */
static void ucore_keys_init(void)
{
	BUG_ON(stm_keys_init());
}

struct stm_store *ucore_store_new(u32 uid, u32 seed)
{
	static pthread_once_t keys_once = PTHREAD_ONCE_INIT;
	struct stm_store *s;
	int i;

	pthread_once(&keys_once, ucore_keys_init);

	s = calloc(1, sizeof(*s));
	BUG_ON(!s);
	kref_init_ucore(&s->ref);
	s->seed = seed;
	s->owner = stm_user_get((kuid_t){ uid });
	BUG_ON(!s->owner);
	BUG_ON(stm_user_add_store(s->owner));
	s->stats = calloc(1, sizeof(*s->stats));
	BUG_ON(!s->stats);
	mutex_init(&s->fam_lock);
	stm_ranges_init(s);
	for (i = 0; i < STM_WAIT_BUCKETS; i++)
		s->wq[i].unused = 0;
	BUG_ON(stm_table_init(s));
	atomic64_set(&s->tbl_mem, 0);
	return s;
}

/* No caller is left; what the store charged to its owner must come back. */
void ucore_store_free(struct stm_store *s)
{
	struct stm_user *u = s->owner;

	stm_ranges_destroy(s);
	stm_table_destroy(s);
	stm_user_charge(u, -atomic64_read(&s->nkeys), -atomic64_read(&s->mem));
	stm_user_del_store(u);
	stm_user_put(u);
	mutex_destroy(&s->fam_lock);
	free(s->stats);
	free(s);
}
