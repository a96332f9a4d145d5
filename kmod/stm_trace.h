/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stm.ko's tracepoints: the "stm" system in tracefs (events/stm/), for
 * perf, trace-cmd and bpftrace.  Documentation/tracing.rst shows them in
 * use.  Keys appear escaped and truncated (stm_trace_key(), trace.c);
 * values never appear.  Off, each costs one static branch; the commit's
 * clock reading is taken only while its event is enabled.
 *
 * CREATE_TRACE_POINTS is defined in trace.c alone.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM stm

#if !defined(_STM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _STM_TRACE_H

#include <linux/tracepoint.h>
#include <linux/sched.h>
#include <linux/ktime.h>
#include "stm.h"

DECLARE_EVENT_CLASS(stm_store_class,
	TP_PROTO(const struct stm_store *s),
	TP_ARGS(s),
	TP_STRUCT__entry(
		__string(store, s->name)
	),
	TP_fast_assign(
		stm_assign_str(store, s->name);
	),
	TP_printk("store=%s", __get_str(store))
);

/* ATTACH succeeded: the fd now names the store. */
TRACE_EVENT(stm_attach,
	TP_PROTO(const struct stm_store *s, u32 flags),
	TP_ARGS(s, flags),
	TP_STRUCT__entry(
		__string(store, s->name)
		__field(u32, flags)
	),
	TP_fast_assign(
		stm_assign_str(store, s->name);
		__entry->flags = flags;
	),
	TP_printk("store=%s flags=%s", __get_str(store),
		  __print_flags(__entry->flags, "|",
				{ STMDEV_ATTACH_CREAT, "CREAT" },
				{ STMDEV_ATTACH_EXCL, "EXCL" },
				{ STMDEV_ATTACH_RDONLY, "RDONLY" },
				{ STMDEV_ATTACH_NONBLOCK, "NONBLOCK" }))
);

/* The last reference of an attached fd is closed. */
DEFINE_EVENT(stm_store_class, stm_detach,
	TP_PROTO(const struct stm_store *s),
	TP_ARGS(s)
);

/* UNLINK took the store out of its namespace. */
DEFINE_EVENT(stm_store_class, stm_unlink,
	TP_PROTO(const struct stm_store *s),
	TP_ARGS(s)
);

/*
 * A COMMIT that got past its header's checks: its entries and writes, its
 * result (0, -ESTALE, -EBUSY, ...), the version it published (0 unless it
 * succeeded), the store's clock after it, its family and its duration.
 */
TRACE_EVENT(stm_commit,
	TP_PROTO(const struct stm_store *s, u32 entries, u32 writes, u32 family,
		 int result, u64 version, u64 t0),
	TP_ARGS(s, entries, writes, family, result, version, t0),
	TP_STRUCT__entry(
		__string(store, s->name)
		__field(u32, entries)
		__field(u32, writes)
		__field(u32, family)
		__field(int, result)
		__field(u64, version)
		__field(u64, clock)
		__field(u64, duration_ns)
	),
	TP_fast_assign(
		stm_assign_str(store, s->name);
		__entry->entries = entries;
		__entry->writes = writes;
		__entry->family = family;
		__entry->result = result;
		__entry->version = version;
		__entry->clock = atomic64_read(&s->clock);
		/* t0 is 0 when the event was enabled during the commit */
		__entry->duration_ns = t0 ? ktime_get_ns() - t0 : 0;
	),
	TP_printk("store=%s entries=%u writes=%u family=%u result=%d version=%llu clock=%llu duration_ns=%llu",
		  __get_str(store), __entry->entries, __entry->writes,
		  __entry->family, __entry->result, __entry->version,
		  __entry->clock, __entry->duration_ns)
);

/*
 * A COMMIT failed with ESTALE: its first conflicting entry, the version
 * the caller expected and the one the key had.
 */
TRACE_EVENT(stm_conflict,
	TP_PROTO(const struct stm_store *s, const struct stm_kref *kr, u32 index,
		 u64 expected, u64 actual),
	TP_ARGS(s, kr, index, expected, actual),
	TP_STRUCT__entry(
		__string(store, s->name)
		__array(char, key, STM_TRACE_KEY)
		__field(u32, len)
		__field(u32, index)
		__field(u64, expected)
		__field(u64, actual)
	),
	TP_fast_assign(
		stm_assign_str(store, s->name);
		stm_trace_key(__entry->key, kr);
		__entry->len = kr ? kr->len : 0;
		__entry->index = index;
		__entry->expected = expected;
		__entry->actual = actual;
	),
	TP_printk("store=%s key=\"%s\" len=%u index=%u expected=%llu actual=%llu",
		  __get_str(store), __entry->key, __entry->len, __entry->index,
		  __entry->expected, __entry->actual)
);

/* A non-blocking COMMIT failed with EBUSY on this key, held by another. */
TRACE_EVENT(stm_busy,
	TP_PROTO(const struct stm_store *s, const struct stm_kref *kr),
	TP_ARGS(s, kr),
	TP_STRUCT__entry(
		__string(store, s->name)
		__array(char, key, STM_TRACE_KEY)
		__field(u32, len)
	),
	TP_fast_assign(
		stm_assign_str(store, s->name);
		stm_trace_key(__entry->key, kr);
		__entry->len = kr ? kr->len : 0;
	),
	TP_printk("store=%s key=\"%s\" len=%u", __get_str(store),
		  __entry->key, __entry->len)
);

/* A WAIT (ioctl or io_uring) is queued: its first key and entry count. */
TRACE_EVENT(stm_wait_start,
	TP_PROTO(const struct stm_store *s, const struct stm_kref *kr, u32 count,
		 s64 timeout_ns),
	TP_ARGS(s, kr, count, timeout_ns),
	TP_STRUCT__entry(
		__string(store, s->name)
		__array(char, key, STM_TRACE_KEY)
		__field(u32, count)
		__field(pid_t, pid)
		__field(s64, timeout_ns)
	),
	TP_fast_assign(
		stm_assign_str(store, s->name);
		stm_trace_key(__entry->key, kr);
		__entry->count = count;
		__entry->pid = current->tgid;
		__entry->timeout_ns = timeout_ns;
	),
	TP_printk("store=%s pid=%d count=%u key=\"%s\" timeout_ns=%lld",
		  __get_str(store), __entry->pid, __entry->count,
		  __entry->key, __entry->timeout_ns)
);

/* A WAIT ends because entry @index's key changed. */
TRACE_EVENT(stm_wait_wake,
	TP_PROTO(const struct stm_store *s, const struct stm_kref *kr, u32 index),
	TP_ARGS(s, kr, index),
	TP_STRUCT__entry(
		__string(store, s->name)
		__array(char, key, STM_TRACE_KEY)
		__field(u32, index)
		__field(pid_t, pid)
	),
	TP_fast_assign(
		stm_assign_str(store, s->name);
		stm_trace_key(__entry->key, kr);
		__entry->index = index;
		__entry->pid = current->tgid;
	),
	TP_printk("store=%s pid=%d index=%u key=\"%s\"", __get_str(store),
		  __entry->pid, __entry->index, __entry->key)
);

/* A WAIT ends with ETIMEDOUT. */
TRACE_EVENT(stm_wait_timeout,
	TP_PROTO(const struct stm_store *s, u32 count),
	TP_ARGS(s, count),
	TP_STRUCT__entry(
		__string(store, s->name)
		__field(u32, count)
		__field(pid_t, pid)
	),
	TP_fast_assign(
		stm_assign_str(store, s->name);
		__entry->count = count;
		__entry->pid = current->tgid;
	),
	TP_printk("store=%s pid=%d count=%u", __get_str(store),
		  __entry->pid, __entry->count)
);

/* A limit refused a request: which one (the module parameter), for whom. */
TRACE_EVENT(stm_quota,
	TP_PROTO(kuid_t uid, u32 limit, s64 want, int result),
	TP_ARGS(uid, limit, want, result),
	TP_STRUCT__entry(
		__field(u32, uid)
		__field(u32, limit)
		__field(s64, want)
		__field(int, result)
	),
	TP_fast_assign(
		__entry->uid = from_kuid_munged(&init_user_ns, uid);
		__entry->limit = limit;
		__entry->want = want;
		__entry->result = result;
	),
	TP_printk("uid=%u limit=%s want=%lld result=%d", __entry->uid,
		  __print_symbolic(__entry->limit,
				   { STM_LIMIT_STORES, "max_stores" },
				   { STM_LIMIT_STORES_USER, "max_stores_per_user" },
				   { STM_LIMIT_KEYS_USER, "max_keys_per_user" },
				   { STM_LIMIT_MEM_USER, "max_mem_per_user" },
				   { STM_LIMIT_KEYS_STORE, "max_keys_per_store" },
				   { STM_LIMIT_BYTES_STORE, "max_bytes_per_store" },
				   { STM_LIMIT_WAITS_FD, "max_waits_per_fd" },
				   { STM_LIMIT_WAITS_USER, "max_waits_per_user" }),
		  __entry->want, __entry->result)
);

#endif /* _STM_TRACE_H */

/* Out of tree: define_trace.h finds this file by path (Kbuild adds -I). */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE stm_trace
#include <trace/define_trace.h>
