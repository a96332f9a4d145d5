// SPDX-License-Identifier: MIT
/*
 * Kernel memory per key: insert many 8-byte keys with 8-byte values into a
 * fresh store, in COMMITs as large as the module allows, and read what the
 * kernel's slab (and vmalloc) usage grew by; then unlink the store and
 * check that the memory comes back.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/stmdev.h>
#include "bench.h"

#define STORE_MEM	"stm-bench-mem"
#define MAX_CACHES	512

struct meminfo {
	int64_t slab, vmalloc, used;	/* bytes */
};

struct slabcache {
	char name[64];
	int64_t bytes;			/* slabs held, in bytes */
};

struct slabinfo {
	int n;
	struct slabcache c[MAX_CACHES];
};

static int read_meminfo(struct meminfo *m)
{
	char line[256];
	long long v, total = 0, free_ = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -errno;
	memset(m, 0, sizeof(*m));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Slab: %lld", &v) == 1)
			m->slab = v * 1024;
		else if (sscanf(line, "VmallocUsed: %lld", &v) == 1)
			m->vmalloc = v * 1024;
		else if (sscanf(line, "MemTotal: %lld", &v) == 1)
			total = v;
		else if (sscanf(line, "MemFree: %lld", &v) == 1)
			free_ = v;
	}
	fclose(f);
	m->used = (total - free_) * 1024;
	return 0;
}

/* /proc/slabinfo (root only): bytes of slabs each cache holds. */
static void read_slabinfo(struct slabinfo *si)
{
	char line[512], name[64];
	long long active, num, objsize, perslab, pages, aslabs, nslabs;
	FILE *f = fopen("/proc/slabinfo", "re");

	si->n = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && si->n < MAX_CACHES) {
		if (sscanf(line, "%63s %lld %lld %lld %lld %lld : tunables %*d %*d %*d : slabdata %lld %lld",
			   name, &active, &num, &objsize, &perslab, &pages,
			   &aslabs, &nslabs) != 8)
			continue;
		snprintf(si->c[si->n].name, sizeof(si->c[si->n].name), "%s", name);
		si->c[si->n].bytes = nslabs * pages * 4096;
		si->n++;
	}
	fclose(f);
}

/* Ask SLUB to give back empty slabs, so deltas count objects, not caching. */
static void shrink_slabs(void)
{
	char path[512];
	struct dirent *d;
	DIR *dir = opendir("/sys/kernel/slab");
	int f;

	if (!dir)
		return;
	while ((d = readdir(dir))) {
		if (d->d_type != DT_DIR || d->d_name[0] == '.')
			continue;	/* aliases are symlinks */
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", d->d_name);
		f = open(path, O_WRONLY | O_CLOEXEC);
		if (f < 0)
			continue;
		if (write(f, "1", 1) < 0) {
			/* best effort */
		}
		close(f);
	}
	closedir(dir);
}

static void settle(void)
{
	usleep(300 * 1000);	/* RCU callbacks, rhashtable resizing */
	shrink_slabs();
	usleep(100 * 1000);
}

static void unlink_store(void)
{
	struct stmdev_unlink u = { 0 };
	int f = open("/dev/stm", O_RDWR | O_CLOEXEC);

	if (f < 0)
		return;
	snprintf(u.name, sizeof(u.name), "%s", STORE_MEM);
	ioctl(f, STMDEV_IOC_UNLINK, &u);
	close(f);
}

/*
 * Per-key growth of the caches that moved by 1% of @total or more, as a
 * JSON object; returns the growth of all caches together, in bytes.
 */
static int64_t caches_json(const struct slabinfo *a, const struct slabinfo *b,
			   int64_t total, int nkeys, char *out, size_t len)
{
	int64_t all = 0;
	size_t used = 0;
	int i, j;

	used += snprintf(out + used, len - used, "{");
	for (i = 0; i < b->n; i++) {
		int64_t before = 0, d;

		for (j = 0; j < a->n; j++)
			if (!strcmp(a->c[j].name, b->c[i].name))
				before = a->c[j].bytes;
		d = b->c[i].bytes - before;
		all += d;
		/* Only caches that moved by 1% of the total or more. */
		if (d * 100 < total || used + 96 > len)
			continue;
		used += snprintf(out + used, len - used, "%s\"%s\": %.2f",
				 used > 1 ? ", " : "", b->c[i].name,
				 (double)d / nkeys);
	}
	snprintf(out + used, len - used, "}");
	return all;
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* A random key of @nkeys; with @hot, one of @hot keys spread over them. */
static int pick_key(uint64_t *x, int nkeys, int hot)
{
	if (hot && nkeys > hot)
		return (int)(xorshift(x) % hot) * (nkeys / hot);
	return (int)(xorshift(x) % nkeys);
}

/*
 * The flat-cost curve: 1-key commits (a PUT of an existing key) and 8-key
 * READs of keys drawn at random from all @nkeys (with @hot, from that many
 * of them spread over the store: a working set that stays the same size as
 * the store grows), each timed as the fastest of cfg.sub batches of
 * cfg.batch_ms; ns per operation.
 */
static int time_ops(int fd, const uint64_t *keys, int nkeys, int hot, double *commit_ns,
		    double *read8_ns)
{
	struct stmdev_commit_ent e = { .key_len = sizeof(uint64_t), .op = STMDEV_OP_PUT };
	struct stmdev_commit c = { .entries = (uintptr_t)&e, .count = 1 };
	struct stmdev_read_ent re[8];
	struct stmdev_read rd = { .entries = (uintptr_t)re, .count = 8 };
	uint64_t val = 0, vals[8], x = 0x9e3779b97f4a7c15ull, t0, t1, n;
	double best[2] = { 0, 0 }, v;
	int b, op, j;

	e.val_addr = (uintptr_t)&val;
	e.val_len = sizeof(val);
	memset(re, 0, sizeof(re));
	for (j = 0; j < 8; j++) {
		re[j].key_len = sizeof(uint64_t);
		re[j].val_addr = (uintptr_t)&vals[j];
		re[j].val_len = sizeof(vals[j]);
	}
	for (b = 0; b < cfg.sub * 2; b++) {
		op = b & 1;
		n = 0;
		t0 = now_ns();
		do {
			if (!op) {
				e.key_addr = (uintptr_t)&keys[pick_key(&x, nkeys, hot)];
				val = n;
				if (ioctl(fd, STMDEV_IOC_COMMIT, &c))
					return -errno;
			} else {
				for (j = 0; j < 8; j++)
					re[j].key_addr = (uintptr_t)&keys[pick_key(&x, nkeys, hot)];
				if (ioctl(fd, STMDEV_IOC_READ, &rd))
					return -errno;
				if (!(re[7].flags & STMDEV_RENT_PRESENT))
					return -ENOENT;
			}
			n++;
			t1 = now_ns();
		} while (t1 - t0 < (uint64_t)cfg.batch_ms * 1000000ull);
		v = (double)(t1 - t0) / n;
		if (!best[op] || v < best[op])
			best[op] = v;
	}
	*commit_ns = best[0];
	*read8_ns = best[1];
	return 0;
}

/*
 * Insert @nkeys keys into a fresh store and measure what the kernel's
 * memory grew by; with @timed, also time_ops() on the full store.
 */
int mem_probe(int nkeys, int timed, struct mem_result *r)
{
	static struct slabinfo s0, s1;
	struct stmdev_attach a = { .flags = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL,
				   .mode = 0600 };
	struct stmdev_features ft = { 0 };
	struct stmdev_info info = { 0 };
	struct stmdev_commit_ent *e;
	struct meminfo m0, m1, m2;
	uint64_t *keys, val = 0, t0, t1;
	int64_t tol;
	int fd, i, j, per, err = 0;

	memset(r, 0, sizeof(*r));
	keys = calloc(nkeys, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < nkeys; i++)
		keys[i] = 0x6d00000000000000ull | (uint64_t)i;
	fd = open("/dev/stm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto out_keys;
	}
	if (ioctl(fd, STMDEV_IOC_GET_FEATURES, &ft)) {
		err = -errno;
		goto out_close;
	}
	per = ft.max_keys_per_call ? (int)ft.max_keys_per_call : 1;
	e = calloc(per, sizeof(*e));
	if (!e) {
		err = -ENOMEM;
		goto out_close;
	}
	for (j = 0; j < per; j++) {
		e[j].key_len = sizeof(uint64_t);
		e[j].val_addr = (uintptr_t)&val;
		e[j].val_len = sizeof(val);
		e[j].op = STMDEV_OP_PUT;
	}
	unlink_store();

	settle();
	read_meminfo(&m0);
	read_slabinfo(&s0);

	snprintf(a.name, sizeof(a.name), "%s", STORE_MEM);
	if (ioctl(fd, STMDEV_IOC_ATTACH, &a)) {
		err = -errno;
		snprintf(r->why, sizeof(r->why), "ATTACH: %s", strerror(errno));
		goto out_free;
	}
	t0 = now_ns();
	for (i = 0; i < nkeys; i += per) {
		struct stmdev_commit c = { .entries = (uintptr_t)e };

		c.count = nkeys - i < per ? nkeys - i : per;
		for (j = 0; j < (int)c.count; j++)
			e[j].key_addr = (uintptr_t)&keys[i + j];
		if (ioctl(fd, STMDEV_IOC_COMMIT, &c)) {
			err = -errno;
			snprintf(r->why, sizeof(r->why), "COMMIT: %s", strerror(errno));
			goto out_unlink;
		}
	}
	t1 = now_ns();
	if (ioctl(fd, STMDEV_IOC_INFO, &info)) {
		err = -errno;
		goto out_unlink;
	}
	settle();
	read_meminfo(&m1);
	read_slabinfo(&s1);

	r->keys = info.keys;
	r->kv_bytes = info.bytes;
	r->insert_ns = (double)(t1 - t0) / nkeys;
	r->slab = m1.slab - m0.slab;
	r->vmalloc = m1.vmalloc - m0.vmalloc;
	r->used = m1.used - m0.used;
	r->per_key = (double)(r->slab + r->vmalloc - (int64_t)info.bytes) / nkeys;
	r->per_key_slab = (double)(r->slab - (int64_t)info.bytes) / nkeys;
	r->in_caches = caches_json(&s0, &s1, r->slab, nkeys, r->caches, sizeof(r->caches));
	if (info.keys != (uint64_t)nkeys || info.bytes != 16ull * nkeys) {
		snprintf(r->why, sizeof(r->why), "INFO says %llu keys, %llu bytes",
			 (unsigned long long)info.keys, (unsigned long long)info.bytes);
		err = -EIO;
	}
	if (!err && timed) {
		err = time_ops(fd, keys, nkeys, 0, &r->commit_ns, &r->read8_ns);
		err = err ?: time_ops(fd, keys, nkeys, 1024, &r->commit_hot_ns, &r->read8_hot_ns);
		err = err ?: time_ops(fd, keys, nkeys, 8, &r->commit_tiny_ns, &r->read8_tiny_ns);
		if (err)
			snprintf(r->why, sizeof(r->why), "timing: %s", strerror(-err));
	}

out_unlink:
	unlink_store();
	close(fd);
	fd = -1;
	/* Values go through kvfree_rcu: give the grace periods time. */
	tol = (r->slab > 0 ? r->slab : 0) / 50 + 256 * 1024;
	for (i = 0; i < 20; i++) {
		settle();
		read_meminfo(&m2);
		r->residual_slab = m2.slab - m0.slab;
		r->residual_vmalloc = m2.vmalloc - m0.vmalloc;
		if (r->residual_slab <= tol && r->residual_vmalloc <= tol)
			break;
	}
	r->returned = r->residual_slab <= tol && r->residual_vmalloc <= tol;
	r->ok = !err;
out_free:
	free(e);
out_close:
	if (fd >= 0)
		close(fd);
out_keys:
	free(keys);
	return err;
}
