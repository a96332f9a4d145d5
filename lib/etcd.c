// SPDX-License-Identifier: MIT
/*
 * etcd.c - the etcd v3 backend: library requests as calls to etcd's JSON
 * gateway (/v3/kv/range, /v3/kv/txn, /v3/watch, /v3/lease/grant,
 * /v3/auth/authenticate) through libcurl, with jansson for the JSON.
 *
 * Store URL: etcd://host:port[,host:port...]/name[?option=value&...].
 * A store is the key prefix "stm/<name>/": "stm/<name>/meta" marks that it
 * exists, "stm/<name>/k/<key>" holds a key, "stm/<name>/l/<id>" are commit
 * ledgers (below).  Keys and values are base64 in the gateway's JSON and
 * int64 fields are strings.
 *
 * Model: a key's version is its mod_revision (0: absent); a snapshot is
 * one Txn of ranges (one revision); a commit is one Txn whose compares
 * are the read set's mod_revisions (create_revision = 0 for keys expected
 * absent) and whose success branch is the write set; on failure, ranges
 * of the compared keys in the failure branch name the conflicting key.
 * add-i64 is read-modify-write, retried here.
 *
 * Outcome of a commit: every commit that writes also creates a fresh
 * ledger key (compare create_revision = 0, put under a lease).  When the
 * network fails after the request may have left, the commit is resolved
 * by reading the ledger key: present, it committed (its mod_revision is
 * the commit's revision); absent, the key is created by a fencing Txn,
 * after which the lost commit can never apply, and the commit is sent
 * again.  Only when the cluster stays unreachable for the whole timeout
 * does a commit end with -STM_EUNKNOWN.  Documentation/etcd.rst.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "internal.h"

#define EP_MAX		16		/* endpoints in a URL */
#define POOL_MAX	8		/* curl handles kept per store handle */
#define REQ_MAX		(3 * 1024 * 1024 / 2)	/* etcd's default request limit */
#define RESP_MAX	(64 * 1024 * 1024)	/* a reply we accept */
#define TXN_OPS_MAX	128		/* etcd's default --max-txn-ops */
#define VALUE_MAX	(1024 * 1024)	/* our max_value_size */
#define LEASE_TTL	600		/* seconds; renewed past half of it */
#define ADD_ROUNDS	256		/* add-i64 read-modify-write rounds */
#define WATCH_CHUNK_MS	2000		/* one watch request, then re-read */
#define FAM_MAX		64
#define RESEND_MAX	8		/* commits sent again after a fence */
#define PFX_MAX		(STM_NAME_MAX + 8)

struct etcd_fam {
	char     name[STM_FAMILY_NAME_MAX + 1];
	uint64_t attempts, commits, conflicts, retries, waits;
};

struct etcd {
	char      pfx[PFX_MAX];		/* "stm/<name>/" */
	size_t    plen;
	char     *ep[EP_MAX];		/* "http://host:port" */
	unsigned  nep;
	unsigned  cur;			/* the endpoint that last answered */
	char      user[128], pass[128];
	char      cacert[256], cert[256], key[256];
	long      timeout_ms, connect_ms;
	bool      serializable;
	int64_t   incarnation;		/* the meta key's create_revision */
	pthread_mutex_t lock;		/* everything below, and cur */
	char      token[512];		/* auth token, "" without auth */
	CURL     *pool[POOL_MAX];
	unsigned  npool;
	int64_t   lease;
	time_t    lease_at;
	uint64_t  seq;			/* ledger ids */
	uint64_t  rnd;
	uint64_t  commits, conflicts, reads, waits, wakeups;
	unsigned  nfam;
	struct etcd_fam fam[FAM_MAX];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void curl_init_once(void)
{
	curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

/* ---- base64 ------------------------------------------------------------- */

static const char b64c[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64enc(const void *src, size_t n)
{
	const uint8_t *s = src;
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = s[i] << 16;

		if (i + 1 < n)
			v |= s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		*o++ = b64c[v >> 18 & 63];
		*o++ = b64c[v >> 12 & 63];
		*o++ = i + 1 < n ? b64c[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? b64c[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int b64val(char c)
{
	const char *p = c ? strchr(b64c, c) : NULL;

	return p ? (int)(p - b64c) : -1;
}

/* Decode @src into @dst (room @cap, NULL to only count); the length or -EPROTO. */
static long b64dec(const char *src, uint8_t *dst, size_t cap)
{
	size_t n = strlen(src), len = 0;

	if (n % 4)
		return -EPROTO;
	for (size_t i = 0; i < n; i += 4) {
		int a = b64val(src[i]), b = b64val(src[i + 1]);
		int c = src[i + 2] == '=' ? 0 : b64val(src[i + 2]);
		int d = src[i + 3] == '=' ? 0 : b64val(src[i + 3]);
		uint32_t v;
		int k = src[i + 2] == '=' ? 1 : src[i + 3] == '=' ? 2 : 3;

		if (a < 0 || b < 0 || c < 0 || d < 0 || (k < 3 && i + 4 != n))
			return -EPROTO;
		v = a << 18 | b << 12 | c << 6 | d;
		for (int j = 0; j < k; j++, len++)
			if (dst && len < cap)
				dst[len] = v >> (16 - 8 * j) & 0xff;
	}
	return (long)len;
}

/* ---- JSON helpers ------------------------------------------------------- */

static json_t *jb64(const void *p, size_t n)
{
	char *s = b64enc(p, n);
	json_t *j = s ? json_string(s) : NULL;

	free(s);
	return j;
}

static json_t *ji64(int64_t x)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, x);
	return json_string(buf);
}

/* An int64 field (a JSON string, or absent: 0). */
static int64_t jget64(json_t *o, const char *field)
{
	json_t *v = json_object_get(o, field);

	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	if (json_is_integer(v))
		return json_integer_value(v);
	return 0;
}

/* The store's etcd key for @key: prefix, @mid ("k/", "l/", "meta") and key. */
static json_t *jkey(const struct etcd *e, const char *mid, const void *key,
		    size_t klen)
{
	uint8_t buf[PFX_MAX + 8 + STM_KEY_MAX];
	size_t ml = strlen(mid);

	memcpy(buf, e->pfx, e->plen);
	memcpy(buf + e->plen, mid, ml);
	memcpy(buf + e->plen + ml, key, klen);
	return jb64(buf, e->plen + ml + klen);
}

/* One "kvs" entry's key, less the store's "k/" prefix, into @out. */
static long kv_key(const struct etcd *e, json_t *kv, uint8_t *out, size_t cap)
{
	uint8_t buf[PFX_MAX + 8 + STM_KEY_MAX + 4];
	json_t *k = json_object_get(kv, "key");
	long n;

	if (!json_is_string(k) || strlen(json_string_value(k)) > (sizeof(buf) / 3) * 4)
		return -EPROTO;
	n = b64dec(json_string_value(k), buf, sizeof(buf));
	if (n < 0 || (size_t)n < e->plen + 2 || (size_t)n - e->plen - 2 > cap)
		return -EPROTO;
	memcpy(out, buf + e->plen + 2, n - e->plen - 2);
	return n - (long)e->plen - 2;
}

/* ---- HTTP --------------------------------------------------------------- */

struct rbuf {
	char  *p;
	size_t len, cap;
	/* watch: stop at the first message with events */
	bool   watch, fired;
};

static size_t on_data(char *data, size_t sz, size_t nm, void *arg)
{
	struct rbuf *b = arg;
	size_t n = sz * nm;

	if (b->len + n + 1 > RESP_MAX)
		return 0;
	if (b->len + n + 1 > b->cap) {
		size_t nc = (b->len + n + 1) * 2;
		char *np = realloc(b->p, nc);

		if (!np)
			return 0;
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	if (b->watch) {
		/* Messages are JSON objects one after another. */
		size_t off = 0;

		while (off < b->len) {
			json_error_t err;
			json_t *m = json_loadb(b->p + off, b->len - off,
					       JSON_DISABLE_EOF_CHECK, &err);
			json_t *ev;

			if (!m)
				break;
			off += err.position;
			ev = json_object_get(json_object_get(m, "result"), "events");
			if (json_array_size(ev) ||
			    json_object_get(json_object_get(m, "result"), "canceled"))
				b->fired = true;
			json_decref(m);
		}
		if (off) {
			memmove(b->p, b->p + off, b->len - off);
			b->len -= off;
		}
		if (b->fired)
			return 0;	/* ends the transfer */
	}
	return n;
}

static CURL *pool_get(struct etcd *e)
{
	CURL *c = NULL;

	pthread_mutex_lock(&e->lock);
	if (e->npool)
		c = e->pool[--e->npool];
	pthread_mutex_unlock(&e->lock);
	return c ? c : curl_easy_init();
}

static void pool_put(struct etcd *e, CURL *c)
{
	pthread_mutex_lock(&e->lock);
	if (e->npool < POOL_MAX) {
		e->pool[e->npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&e->lock);
	if (c)
		curl_easy_cleanup(c);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An etcd error reply as an errno; *transient when another try may do. */
static int http_err(long code, const char *body, bool *transient)
{
	json_t *j = json_loads(body ? body : "", 0, NULL);
	const char *m = json_string_value(json_object_get(j, "error"));
	int ret = -EPROTO;

	if (!m)
		m = json_string_value(json_object_get(j, "message"));
	if (!m)
		m = "";
	*transient = false;
	if (strstr(m, "too many operations") || strstr(m, "too large") ||
	    strstr(m, "larger than max"))
		ret = -E2BIG;
	else if (strstr(m, "authentication failed") || strstr(m, "permission denied") ||
		 strstr(m, "user name is empty") || strstr(m, "invalid auth token") ||
		 code == 401 || code == 403)
		ret = -EACCES;
	else if (strstr(m, "duplicate key"))
		ret = -EINVAL;
	else if (strstr(m, "requested lease not found"))
		ret = -ENOKEY;		/* ours: regrant */
	else if (code >= 500 || strstr(m, "no leader") || strstr(m, "timed out") ||
		 strstr(m, "leader changed") || strstr(m, "not capable") ||
		 strstr(m, "stopped") || strstr(m, "unhealthy"))
		*transient = true, ret = -EAGAIN;
	json_decref(j);
	return ret;
}

/*
 * POST @req to @path, trying the endpoints in turn until @deadline (ms,
 * CLOCK_MONOTONIC).  A failed member is skipped.  With @write set, a
 * failure after the request may have been sent gives -STM_EUNKNOWN at
 * once (the caller resolves it); otherwise the next member is asked.
 * @watch: the reply is a watch stream, ended at its first event (0) or
 * at @deadline (-ETIMEDOUT).
 */
static int post_body(struct etcd *e, const char *path, const char *body,
		     bool write, bool watch, int64_t deadline, json_t **out)
{
	struct rbuf b = { .watch = watch };
	unsigned tries = 0, ep_used = 0;
	int ret = -EHOSTUNREACH;
	CURL *c;

	*out = NULL;
	if (strlen(body) > REQ_MAX)
		return -E2BIG;
	c = pool_get(e);
	if (!c)
		return -ENOMEM;
	for (;;) {
		struct curl_slist *h = NULL;
		char url[300], auth[600];
		unsigned ep;
		int64_t left = deadline - now_ms();
		long code = 0;
		bool transient;
		CURLcode cr;

		if (left <= 0)
			break;
		pthread_mutex_lock(&e->lock);
		ep = e->cur;
		snprintf(auth, sizeof(auth), "Authorization: %s", e->token);
		pthread_mutex_unlock(&e->lock);
		ep_used = ep;
		snprintf(url, sizeof(url), "%s%s", e->ep[ep], path);
		h = curl_slist_append(h, "Content-Type: application/json");
		if (auth[15] && h)
			h = curl_slist_append(h, auth);
		curl_easy_reset(c);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(watch || left < e->timeout_ms ?
							       left : e->timeout_ms));
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, e->connect_ms);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
		if (e->cacert[0])
			curl_easy_setopt(c, CURLOPT_CAINFO, e->cacert);
		if (e->cert[0])
			curl_easy_setopt(c, CURLOPT_SSLCERT, e->cert);
		if (e->key[0])
			curl_easy_setopt(c, CURLOPT_SSLKEY, e->key);
		b.len = 0;
		b.fired = false;
		cr = curl_easy_perform(c);
		curl_slist_free_all(h);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		if (watch && (b.fired || cr == CURLE_OPERATION_TIMEDOUT) && code == 200) {
			ret = b.fired ? 0 : -ETIMEDOUT;
			goto out;
		}
		if (cr == CURLE_OK && code == 200) {
			*out = json_loadb(b.p ? b.p : "", b.len, 0, NULL);
			ret = *out ? 0 : -EPROTO;
			pthread_mutex_lock(&e->lock);
			e->cur = ep;
			pthread_mutex_unlock(&e->lock);
			goto out;
		}
		if (cr == CURLE_OK) {
			ret = http_err(code, b.p, &transient);
			if (!transient)
				goto out;
			if (write) {
				/* "timed out", "leader changed": it may yet apply */
				ret = -STM_EUNKNOWN;
				goto out;
			}
		} else if (cr == CURLE_SSL_CACERT_BADFILE || cr == CURLE_SSL_CERTPROBLEM ||
			   cr == CURLE_PEER_FAILED_VERIFICATION || cr == CURLE_SSL_CONNECT_ERROR) {
			ret = -EACCES;
			goto out;
		} else if (cr != CURLE_COULDNT_CONNECT && cr != CURLE_COULDNT_RESOLVE_HOST &&
			   write) {
			ret = -STM_EUNKNOWN;	/* it may have left */
			goto out;
		}
		/* Not sent, or nothing lost by asking again: the next member. */
		pthread_mutex_lock(&e->lock);
		if (e->cur == ep)
			e->cur = (ep + 1) % e->nep;
		pthread_mutex_unlock(&e->lock);
		if (++tries % e->nep == 0)
			usleep(50000);
		ret = -EHOSTUNREACH;
	}
out:
	if (ret == -STM_EUNKNOWN) {
		/* Whatever became of it, the next question (resolving it)
		 * goes to another member. */
		pthread_mutex_lock(&e->lock);
		if (e->cur == ep_used)
			e->cur = (ep_used + 1) % e->nep;
		pthread_mutex_unlock(&e->lock);
	}
	free(b.p);
	pool_put(e, c);
	return ret;
}

static int post(struct etcd *e, const char *path, json_t *req, bool write,
		json_t **out)
{
	char *body = json_dumps(req, JSON_COMPACT);
	int ret;

	if (!body)
		return -ENOMEM;
	ret = post_body(e, path, body, write, false, now_ms() + e->timeout_ms, out);
	free(body);
	return ret;
}

/* ---- URL ---------------------------------------------------------------- */

static int opt_str(char *dst, size_t cap, const char *v, size_t vlen)
{
	if (vlen >= cap)
		return -EINVAL;
	memcpy(dst, v, vlen);
	dst[vlen] = '\0';
	return 0;
}

static int parse_opt(struct etcd *e, const char *o, size_t len)
{
	const char *eq = memchr(o, '=', len);
	size_t kl, vl;
	const char *v;
	char num[16];
	long x;

	if (!eq)
		return -EINVAL;
	kl = eq - o;
	v = eq + 1;
	vl = len - kl - 1;
#define IS(k) (kl == strlen(k) && !strncmp(o, k, kl))
	if (IS("user"))
		return opt_str(e->user, sizeof(e->user), v, vl);
	if (IS("password"))
		return opt_str(e->pass, sizeof(e->pass), v, vl);
	if (IS("cacert"))
		return opt_str(e->cacert, sizeof(e->cacert), v, vl);
	if (IS("cert"))
		return opt_str(e->cert, sizeof(e->cert), v, vl);
	if (IS("key"))
		return opt_str(e->key, sizeof(e->key), v, vl);
	if (IS("isolation")) {
		if (vl == 12 && !strncmp(v, "serializable", 12))
			e->serializable = true;
		else if (!(vl == 12 && !strncmp(v, "linearizable", 12)))
			return -EINVAL;
		return 0;
	}
	if (IS("timeout_ms") || IS("connect_timeout_ms")) {
		char *end;

		if (opt_str(num, sizeof(num), v, vl))
			return -EINVAL;
		x = strtol(num, &end, 10);
		if (*end || x < 1 || x > 3600000)
			return -EINVAL;
		if (IS("timeout_ms"))
			e->timeout_ms = x;
		else
			e->connect_ms = x;
		return 0;
	}
#undef IS
	return -EINVAL;
}

/* "host:port" (host: letters, digits, '.', '-'; or [v6]) as a base URL. */
static int parse_ep(struct etcd *e, const char *h, size_t len, bool tls)
{
	const char *colon = NULL;
	char *end, port[8];
	long p;

	if (!len || e->nep == EP_MAX || len > 200)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = h[i];

		if (c == ':')
			colon = h + i;
		else if (!(c == '.' || c == '-' || c == '[' || c == ']' ||
			   (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			   (c >= 'A' && c <= 'Z')))
			return -EINVAL;
	}
	if (!colon || colon == h || h + len - colon - 1 < 1 ||
	    h + len - colon - 1 > 5)
		return -EINVAL;
	memcpy(port, colon + 1, h + len - colon - 1);
	port[h + len - colon - 1] = '\0';
	p = strtol(port, &end, 10);
	if (*end || p < 1 || p > 65535)
		return -EINVAL;
	if (asprintf(&e->ep[e->nep], "%s://%.*s", tls ? "https" : "http",
		     (int)len, h) < 0)
		return -ENOMEM;
	e->nep++;
	return 0;
}

static int parse_url(struct etcd *e, const char *url, char *name)
{
	const char *p = url + strlen("etcd://"), *slash, *q, *end;
	bool tls;
	int ret;

	if (strncmp(url, "etcd://", 7) || strlen(url) > 4096)
		return -EINVAL;
	slash = strchr(p, '/');
	if (!slash)
		return -EINVAL;
	q = strchr(slash, '?');
	end = q ? q : slash + strlen(slash);
	if (end - slash - 1 < 1)
		return -EINVAL;
	if (end - slash - 1 > STM_NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(name, slash + 1, end - slash - 1);
	name[end - slash - 1] = '\0';
	ret = stm_check_name(name);
	if (ret)
		return ret;
	e->timeout_ms = 5000;
	e->connect_ms = 1000;
	for (const char *o = q ? q + 1 : NULL; o && *o;) {
		const char *amp = strchr(o, '&');
		size_t ol = amp ? (size_t)(amp - o) : strlen(o);

		ret = parse_opt(e, o, ol);
		if (ret)
			return ret;
		o = amp ? amp + 1 : NULL;
	}
	tls = e->cacert[0] || e->cert[0];
	for (const char *h = p; h < slash;) {
		const char *comma = memchr(h, ',', slash - h);
		size_t hl = comma ? (size_t)(comma - h) : (size_t)(slash - h);

		ret = parse_ep(e, h, hl, tls);
		if (ret)
			return ret;
		h = comma ? comma + 1 : slash;
		if (comma && h == slash)
			return -EINVAL;
	}
	if (!e->nep || (e->user[0] && !e->pass[0]))
		return -EINVAL;
	e->plen = snprintf(e->pfx, sizeof(e->pfx), "stm/%s/", name);
	return 0;
}

static void etcd_free(struct etcd *e)
{
	if (!e)
		return;
	for (unsigned i = 0; i < e->npool; i++)
		curl_easy_cleanup(e->pool[i]);
	for (unsigned i = 0; i < e->nep; i++)
		free(e->ep[i]);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

static int authenticate(struct etcd *e)
{
	json_t *req, *resp = NULL;
	const char *tok;
	int ret;

	if (!e->user[0])
		return 0;
	req = json_pack("{s:s, s:s}", "name", e->user, "password", e->pass);
	if (!req)
		return -ENOMEM;
	ret = post(e, "/v3/auth/authenticate", req, false, &resp);
	json_decref(req);
	if (ret)
		return ret;
	tok = json_string_value(json_object_get(resp, "token"));
	if (!tok || strlen(tok) >= sizeof(e->token))
		ret = -EPROTO;
	else {
		pthread_mutex_lock(&e->lock);
		strcpy(e->token, tok);
		pthread_mutex_unlock(&e->lock);
	}
	json_decref(resp);
	return ret;
}

/* An etcd handle for @url (its store name into @name). */
static int etcd_new(const char *url, char *name, struct etcd **out)
{
	struct etcd *e;
	int ret;

	pthread_once(&curl_once, curl_init_once);
	if (!curl_ok)
		return -ENOMEM;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	pthread_mutex_init(&e->lock, NULL);
	ret = parse_url(e, url, name);
	if (!ret)
		ret = authenticate(e);
	if (ret) {
		etcd_free(e);
		return ret;
	}
	e->rnd = ((uint64_t)getpid() << 32) ^ (uint64_t)now_ms() ^ (uintptr_t)e;
	/* Handles start on different members: the load is spread, and a
	 * member's loss is seen by some clients, which move on. */
	e->cur = (unsigned)(e->rnd % 7919) % e->nep;
	*out = e;
	return 0;
}

/* Txn @req; on "invalid auth token" authenticate again once. */
static int txn(struct etcd *e, json_t *req, bool write, json_t **out)
{
	int ret = post(e, "/v3/kv/txn", req, write, out);

	if (ret == -EACCES && e->user[0] && authenticate(e) == 0)
		ret = post(e, "/v3/kv/txn", req, write, out);
	return ret;
}

static json_t *range_op(json_t *key)
{
	return json_pack("{s:{s:o}}", "request_range", "key", key);
}

/* The first kv of a Txn response's range @i, or NULL (absent). */
static json_t *resp_kv(json_t *resp, size_t i)
{
	json_t *r = json_array_get(json_object_get(resp, "responses"), i);

	return json_array_get(json_object_get(json_object_get(r, "response_range"),
					      "kvs"), 0);
}

/* ---- open, close, unlink ------------------------------------------------ */

static int etcd_open(struct stm_store *s, const char *url, int flags, mode_t mode)
{
	char name[STM_NAME_MAX + 1];
	json_t *req = NULL, *resp = NULL, *meta;
	struct etcd *e;
	bool ok;
	int ret;

	ret = etcd_new(url, name, &e);
	if (ret)
		return ret;
	/* The nonce tells our own creation from another's when a reply was
	 * lost and the create asked again. */
	meta = json_pack("{s:i, s:i, s:i, s:o}", "mode", (int)(mode & 07777),
			 "uid", (int)getuid(), "gid", (int)getgid(), "nonce",
			 ji64((int64_t)(e->rnd & INT64_MAX)));
	if (flags & STM_CREAT) {
		char *m = meta ? json_dumps(meta, JSON_COMPACT) : NULL;

		req = m ? json_pack("{s:[{s:o, s:s, s:s, s:s}], s:[{s:{s:o, s:o}}], s:[o]}",
				    "compare", "key", jkey(e, "meta", "", 0),
				    "target", "CREATE", "result", "EQUAL",
				    "create_revision", "0",
				    "success", "request_put", "key", jkey(e, "meta", "", 0),
				    "value", jb64(m, strlen(m)),
				    "failure", range_op(jkey(e, "meta", "", 0))) : NULL;
		free(m);
	} else {
		req = json_pack("{s:[], s:[o]}", "compare", "success",
				range_op(jkey(e, "meta", "", 0)));
	}
	json_decref(meta);
	ret = req ? txn(e, req, false, &resp) : -ENOMEM;
	json_decref(req);
	if (ret)
		goto out_free;
	ok = json_is_true(json_object_get(resp, "succeeded"));
	if (!ok && (flags & STM_CREAT) && resp_kv(resp, 0)) {
		/* Ours, from a try whose reply was lost? */
		const char *v = json_string_value(json_object_get(resp_kv(resp, 0), "value"));
		char buf[256];
		long n = v ? b64dec(v, (uint8_t *)buf, sizeof(buf) - 1) : -1;
		json_t *m;

		buf[n > 0 && n < (long)sizeof(buf) ? n : 0] = '\0';
		m = json_loads(buf, 0, NULL);
		ok = m && jget64(m, "nonce") == (int64_t)(e->rnd & INT64_MAX);
		json_decref(m);
		if (ok)	/* then the incarnation is the meta's own */
			json_object_set_new(json_object_get(resp, "header"), "revision",
					    ji64(jget64(resp_kv(resp, 0), "create_revision")));
	}
	if (flags & STM_CREAT)
		ret = (!ok && (flags & STM_EXCL)) ? -EEXIST : 0;
	else
		ret = resp_kv(resp, 0) ? 0 : -ENOENT;
	/* Which incarnation of the name this handle is attached to. */
	e->incarnation = (flags & STM_CREAT) && ok ?
			 jget64(json_object_get(resp, "header"), "revision") :
			 jget64(resp_kv(resp, 0), "create_revision");
	json_decref(resp);
	if (ret)
		goto out_free;
	s->lim.features = 0;
	s->lim.max_key_len = STM_KEY_MAX;
	s->lim.max_value_size = VALUE_MAX;
	s->lim.max_keys_per_call = TXN_OPS_MAX - 2;	/* the meta's and the ledger's */
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->priv = e;
	return 0;

out_free:
	etcd_free(e);
	return ret;
}

static void etcd_close(struct stm_store *s)
{
	etcd_free(s->priv);
	s->priv = NULL;
}

/* "stm/<name>/" and its range end ("stm/<name>0"). */
static json_t *prefix_range(const struct etcd *e, const char *mid, json_t **end)
{
	uint8_t buf[PFX_MAX + 8];
	size_t n = e->plen;

	memcpy(buf, e->pfx, n);
	memcpy(buf + n, mid, strlen(mid));
	n += strlen(mid);
	*end = NULL;
	buf[n - 1]++;
	*end = jb64(buf, n);
	buf[n - 1]--;
	return jb64(buf, n);
}

static int etcd_unlink(const char *url)
{
	char name[STM_NAME_MAX + 1];
	json_t *req, *resp = NULL, *k, *end;
	struct etcd *e;
	int ret;

	ret = etcd_new(url, name, &e);
	if (ret)
		return ret;
	k = prefix_range(e, "", &end);
	req = json_pack("{s:[{s:o, s:s, s:s, s:s}], s:[{s:{s:o, s:o}}]}",
			"compare", "key", jkey(e, "meta", "", 0), "target", "CREATE",
			"result", "GREATER", "create_revision", "0",
			"success", "request_delete_range", "key", k, "range_end", end);
	ret = req ? txn(e, req, true, &resp) : -ENOMEM;
	json_decref(req);
	if (ret == -STM_EUNKNOWN)
		ret = -EIO;
	if (!ret && !json_is_true(json_object_get(resp, "succeeded")))
		ret = -ENOENT;
	json_decref(resp);
	etcd_free(e);
	return ret;
}

/* ---- reads -------------------------------------------------------------- */

/* Fill @rd from @kv (NULL: absent); -E2BIG when the buffer is short. */
static int take_kv(struct stm_rd *rd, json_t *kv)
{
	const char *v;
	long len;

	rd->present = kv != NULL;
	rd->version = kv ? (uint64_t)jget64(kv, "mod_revision") : 0;
	rd->len = 0;
	if (!kv)
		return 0;
	v = json_string_value(json_object_get(kv, "value"));
	if (!v)
		v = "";
	len = b64dec(v, NULL, 0);
	if (len < 0 || len > UINT32_MAX)
		return -EPROTO;
	rd->len = len;
	if ((uint32_t)len > rd->cap)
		return -E2BIG;
	return b64dec(v, rd->buf, rd->cap) < 0 ? -EPROTO : 0;
}

/* The Range requests @ops (taken) as one Txn: one revision, into *rev. */
static int snapshot(struct etcd *e, json_t *ops, json_t **resp, int64_t *rev)
{
	json_t *req = json_pack("{s:[], s:o}", "compare", "success", ops);
	int ret;

	if (!req)
		return -ENOMEM;
	ret = txn(e, req, false, resp);
	json_decref(req);
	if (!ret)
		*rev = jget64(json_object_get(*resp, "header"), "revision");
	return ret;
}

/* Ranges of @n keys in one Txn (n <= TXN_OPS_MAX), or at @rev. */
static int read_chunk(struct etcd *e, struct stm_rd *rd, size_t n, int64_t *rev)
{
	json_t *ops = json_array(), *resp = NULL;
	int ret = 0, r;

	for (size_t i = 0; ops && i < n; i++) {
		json_t *op = json_pack("{s:{s:o}}", "request_range", "key",
				       jkey(e, "k/", rd[i].key, rd[i].klen));

		if (!op || json_array_append_new(ops, op)) {
			json_decref(ops);
			return -ENOMEM;
		}
	}
	if (!ops)
		return -ENOMEM;
	if (*rev || e->serializable) {
		/*
		 * A later chunk: each key at the first chunk's revision.  With
		 * isolation=serializable every read goes this way, answered by
		 * the member asked without a consensus round: the first key's
		 * reply gives the revision the others are read at.
		 */
		for (size_t i = 0; i < n; i++) {
			json_t *rr = json_object_get(json_array_get(ops, i), "request_range");

			if (*rev)
				json_object_set_new(rr, "revision", ji64(*rev));
			json_object_set_new(rr, "serializable", json_boolean(e->serializable));
			r = post(e, "/v3/kv/range", rr, false, &resp);
			if (r) {
				json_decref(ops);
				return r;
			}
			if (!*rev)
				*rev = jget64(json_object_get(resp, "header"), "revision");
			r = take_kv(&rd[i], json_array_get(json_object_get(resp, "kvs"), 0));
			if (r && !ret)
				ret = r;
			json_decref(resp);
		}
		json_decref(ops);
		return ret;
	}
	r = snapshot(e, ops, &resp, rev);
	if (r)
		return r;
	for (size_t i = 0; i < n; i++) {
		r = take_kv(&rd[i], resp_kv(resp, i));
		if (r == -EPROTO || (r && !ret))
			ret = r;
	}
	json_decref(resp);
	return ret;
}

static int etcd_read(struct stm_store *s, struct stm_rd *rd, size_t n,
		     unsigned flags, uint64_t *clock, uint32_t *conflict)
{
	struct etcd *e = s->priv;
	int64_t rev = 0;
	int ret = 0;

	for (size_t i = 0; i < n; i += TXN_OPS_MAX) {
		size_t m = n - i < TXN_OPS_MAX ? n - i : TXN_OPS_MAX;
		int r = read_chunk(e, rd + i, m, &rev);

		if (r && r != -E2BIG)
			return r;
		if (r)
			ret = r;
	}
	pthread_mutex_lock(&e->lock);
	e->reads++;
	pthread_mutex_unlock(&e->lock);
	if (flags & STM_RD_AT) {
		/* Kernel contract: -ESTALE when a key changed past *clock. */
		for (size_t i = 0; i < n; i++)
			if (rd[i].version > *clock) {
				if (conflict)
					*conflict = i;
				return -ESTALE;
			}
	}
	if (ret == 0 && clock && !(flags & STM_RD_AT))
		*clock = rev;
	return ret;
}

/* ---- commits ------------------------------------------------------------ */

static json_t *compare_ver(json_t *key, uint64_t version)
{
	if (!version)
		return json_pack("{s:o, s:s, s:s, s:s}", "key", key, "target", "CREATE",
				 "result", "EQUAL", "create_revision", "0");
	return json_pack("{s:o, s:s, s:s, s:o}", "key", key, "target", "MOD",
			 "result", "EQUAL", "mod_revision", ji64(version));
}

/* The lease ledger keys are put under, granted again past half its TTL. */
static int ledger_lease(struct etcd *e, bool fresh, int64_t *id)
{
	json_t *req, *resp = NULL;
	int ret = 0;

	pthread_mutex_lock(&e->lock);
	if (!fresh && e->lease && time(NULL) - e->lease_at < LEASE_TTL / 2) {
		*id = e->lease;
		pthread_mutex_unlock(&e->lock);
		return 0;
	}
	pthread_mutex_unlock(&e->lock);
	req = json_pack("{s:s}", "TTL", "600");
	if (!req)
		return -ENOMEM;
	ret = post(e, "/v3/lease/grant", req, false, &resp);
	json_decref(req);
	if (ret)
		return ret;
	*id = jget64(resp, "ID");
	json_decref(resp);
	if (!*id)
		return -EPROTO;
	pthread_mutex_lock(&e->lock);
	e->lease = *id;
	e->lease_at = time(NULL);
	pthread_mutex_unlock(&e->lock);
	return 0;
}

/* The ledger key's value: "1" put by the commit, "0" by a fence. */
#define LEDGER_APPLIED	"MQ=="
#define LEDGER_FENCED	"MA=="

/* A put of ledger key @lid under @lease, with value @val. */
static json_t *ledger_put(struct etcd *e, const char *lid, int64_t lease,
			  const char *val)
{
	return json_pack("{s:{s:o, s:s, s:o}}", "request_put", "key",
			 jkey(e, "l/", lid, strlen(lid)), "value", val, "lease",
			 ji64(lease));
}

/* A ledger key @kv (of a range) the commit itself put: it applied. */
static bool ledger_applied(json_t *kv)
{
	const char *v = json_string_value(json_object_get(kv, "value"));

	return v && !strcmp(v, LEDGER_APPLIED) && jget64(kv, "mod_revision") > 0;
}

/* Did the commit with ledger @lid apply?  1 (*rev its revision), 0 (and
 * now it never will), or -errno. */
static int resolve(struct etcd *e, const char *lid, int64_t *rev)
{
	int64_t deadline = now_ms() + e->timeout_ms, lease;
	int ret = -STM_EUNKNOWN;

	while (now_ms() < deadline) {
		json_t *req, *resp = NULL, *kv;
		int r = ledger_lease(e, false, &lease);

		if (r == -STM_EUNKNOWN || r == -EHOSTUNREACH || r == -EAGAIN) {
			usleep(20000);
			continue;
		}
		if (r)
			return r;
		/* Create the ledger key if absent (the fence); either way
		 * read it back. */
		req = json_pack("{s:[o], s:[o], s:[o]}", "compare",
				compare_ver(jkey(e, "l/", lid, strlen(lid)), 0),
				"success", ledger_put(e, lid, lease, LEDGER_FENCED),
				"failure", range_op(jkey(e, "l/", lid, strlen(lid))));
		if (!req)
			return -ENOMEM;
		r = txn(e, req, true, &resp);
		json_decref(req);
		if (r == -STM_EUNKNOWN || r == -EHOSTUNREACH || r == -EAGAIN) {
			usleep(20000);
			continue;	/* an unknown fence resolves the same way */
		}
		if (r == -ENOKEY) {
			ledger_lease(e, true, &lease);
			continue;
		}
		if (r)
			return r;
		/* Not created now: the commit's own put (applied), or
		 * this very fence delivered twice (an HTTP client resends a
		 * request whose reused connection died), which is fenced. */
		if (json_is_true(json_object_get(resp, "succeeded"))) {
			ret = 0;
		} else {
			kv = resp_kv(resp, 0);
			*rev = kv ? jget64(kv, "mod_revision") : 0;
			ret = !kv ? -EPROTO : ledger_applied(kv) ? 1 : 0;
		}
		json_decref(resp);
		return ret;
	}
	return ret;
}

static void fam_count(struct etcd *e, uint32_t family, int ret, unsigned flags)
{
	pthread_mutex_lock(&e->lock);
	if (ret == 0)
		e->commits++;
	else if (ret == -ESTALE)
		e->conflicts++;
	if (family && family <= e->nfam) {
		struct etcd_fam *f = &e->fam[family - 1];

		f->attempts++;
		if (ret == 0)
			f->commits++;
		else if (ret == -ESTALE)
			f->conflicts++;
		if (flags & STM_CM_RETRY)
			f->retries++;
	}
	pthread_mutex_unlock(&e->lock);
}

/* The current values of the ADD entries, for a read-modify-write. */
static int add_read(struct etcd *e, struct stm_cop *ops, size_t n, uint64_t *ver,
		    int64_t *cur)
{
	struct stm_rd rd[1];
	uint8_t buf[8];
	int64_t rev = 0;
	int ret;

	for (size_t i = 0; i < n; i++) {
		if (ops[i].op != STM_OP_ADD)
			continue;
		rd[0] = (struct stm_rd){ .key = ops[i].key, .klen = ops[i].klen,
					 .cap = 8, .buf = buf };
		rev = 0;
		ret = read_chunk(e, rd, 1, &rev);
		if (ret == -E2BIG || (ret == 0 && rd[0].present && rd[0].len != 8))
			return -EINVAL;		/* not an 8-byte integer */
		if (ret)
			return ret;
		ver[i] = rd[0].present ? rd[0].version : 0;
		cur[i] = rd[0].present ? stm_get_le64(buf) : 0;
	}
	return 0;
}

/* One Txn for @ops; 1 when only an ADD key moved (read again). */
static int commit_once(struct etcd *e, struct stm_cop *ops, size_t n,
		       const uint64_t *aver, const int64_t *acur, uint64_t *version,
		       uint32_t *conflict)
{
	json_t *cmp = json_array(), *succ = json_array(), *fail = json_array();
	json_t *req = NULL, *resp = NULL;
	uint32_t idx[TXN_OPS_MAX];
	size_t ncmp = 0;
	bool writes = false;
	char lid[40];
	int64_t lease = 0, rev = 0;
	int ret = -ENOMEM;

	for (size_t i = 0; i < n; i++)
		writes |= ops[i].op != STM_OP_READ;
	if (writes) {
		ret = ledger_lease(e, false, &lease);
		if (ret)
			goto out;
		ret = -ENOMEM;
	}
	pthread_mutex_lock(&e->lock);
	snprintf(lid, sizeof(lid), "%016" PRIx64 "%08" PRIx64, e->rnd, ++e->seq);
	pthread_mutex_unlock(&e->lock);
	if (!cmp || !succ || !fail)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct stm_cop *op = &ops[i];
		bool check = op->op == STM_OP_READ || op->op == STM_OP_ADD ||
			     (op->flags & STM_COP_CHECK);
		uint64_t ver = op->op == STM_OP_ADD ? aver[i] : op->version;
		json_t *w = NULL;
		uint8_t le[8];

		if (check) {
			idx[ncmp++] = i;
			if (json_array_append_new(cmp, compare_ver(jkey(e, "k/", op->key,
									 op->klen), ver)) ||
			    json_array_append_new(fail, range_op(jkey(e, "k/", op->key,
								       op->klen))))
				goto out;
		}
		switch (op->op) {
		case STM_OP_PUT:
			w = json_pack("{s:{s:o, s:o}}", "request_put", "key",
				      jkey(e, "k/", op->key, op->klen), "value",
				      jb64(op->val, op->vlen));
			break;
		case STM_OP_DEL:
			w = json_pack("{s:{s:o}}", "request_delete_range", "key",
				      jkey(e, "k/", op->key, op->klen));
			break;
		case STM_OP_ADD:
			stm_put_le64(le, (int64_t)((uint64_t)acur[i] +
						   (uint64_t)stm_get_le64(op->val)));
			w = json_pack("{s:{s:o, s:o}}", "request_put", "key",
				      jkey(e, "k/", op->key, op->klen), "value",
				      jb64(le, 8));
			break;
		default:
			continue;
		}
		if (!w || json_array_append_new(succ, w))
			goto out;
	}
	/* The store is still the one opened (else -EIDRM), then the ledger. */
	if (json_array_append_new(cmp, json_pack("{s:o, s:s, s:s, s:o}", "key",
			jkey(e, "meta", "", 0), "target", "CREATE", "result", "EQUAL",
			"create_revision", ji64(e->incarnation))) ||
	    json_array_append_new(fail, range_op(jkey(e, "meta", "", 0))))
		goto out;
	if (writes &&
	    (json_array_append_new(cmp, compare_ver(jkey(e, "l/", lid, strlen(lid)), 0)) ||
	     json_array_append_new(succ, ledger_put(e, lid, lease, LEDGER_APPLIED)) ||
	     json_array_append_new(fail, range_op(jkey(e, "l/", lid, strlen(lid))))))
		goto out;
	req = json_pack("{s:O, s:O, s:O}", "compare", cmp, "success", succ,
			"failure", fail);
	if (!req)
		goto out;
	for (unsigned round = 0;; round++) {
		bool done;

		ret = txn(e, req, writes, &resp);
		if (ret == -ENOKEY && round < 2) {
			/* the lease expired: a new one, nothing was applied */
			ret = ledger_lease(e, true, &lease);
			if (ret)
				goto out;
			json_array_set_new(succ, json_array_size(succ) - 1,
					   ledger_put(e, lid, lease, LEDGER_APPLIED));
			json_object_set(req, "success", succ);
			continue;
		}
		if (ret != -STM_EUNKNOWN)
			break;
		ret = resolve(e, lid, &rev);
		if (ret == 0 && round >= RESEND_MAX) {
			/* Fenced (it never applied) again and again: give up,
			 * the outcome known. */
			ret = -EHOSTUNREACH;
			goto out;
		}
		if (ret == 1) {
			*version = rev;
			ret = 0;
			goto out_fetch;
		}
		if (ret)
			goto out;
		/* Fenced: it never applied.  Again, with a new ledger key. */
		pthread_mutex_lock(&e->lock);
		snprintf(lid, sizeof(lid), "%016" PRIx64 "%08" PRIx64, e->rnd, ++e->seq);
		pthread_mutex_unlock(&e->lock);
		json_array_set_new(cmp, json_array_size(cmp) - 1,
				   compare_ver(jkey(e, "l/", lid, strlen(lid)), 0));
		json_array_set_new(succ, json_array_size(succ) - 1,
				   ledger_put(e, lid, lease, LEDGER_APPLIED));
		json_array_set_new(fail, json_array_size(fail) - 1,
				   range_op(jkey(e, "l/", lid, strlen(lid))));
		json_object_set(req, "compare", cmp);
		json_object_set(req, "success", succ);
		json_object_set(req, "failure", fail);
		(void)done;
	}
	if (ret)
		goto out;
	if (!json_is_true(json_object_get(resp, "succeeded"))) {
		bool add_only = true;
		json_t *meta = resp_kv(resp, ncmp);
		json_t *own = writes ? resp_kv(resp, ncmp + 1) : NULL;

		/* The ledger key is there: this very Txn applied before
		 * (an HTTP client resends a request whose reused connection
		 * died with no reply: "refused" next does not mean "never
		 * sent").  A fence is only ever put on an older ledger key. */
		if (own && ledger_applied(own)) {
			*version = jget64(own, "mod_revision");
			ret = 0;
			goto out_fetch;
		}
		ret = -EIDRM;	/* unlinked (and maybe created again) */
		if (!meta || jget64(meta, "create_revision") != e->incarnation)
			goto out;
		ret = -EPROTO;
		for (size_t j = 0; j < ncmp; j++) {
			json_t *kv = resp_kv(resp, j);
			struct stm_cop *op = &ops[idx[j]];
			uint64_t want = op->op == STM_OP_ADD ? aver[idx[j]] : op->version;
			uint64_t now = kv ? (uint64_t)jget64(kv, "mod_revision") : 0;

			if (now == want)
				continue;
			if (op->op == STM_OP_ADD) {
				ret = 1;
				continue;
			}
			add_only = false;
			*conflict = idx[j];
			ret = -ESTALE;
			break;
		}
		if (!add_only)
			ret = -ESTALE;
		goto out;
	}
	*version = jget64(json_object_get(resp, "header"), "revision");
	ret = 0;
out_fetch:
	for (size_t i = 0; i < n; i++)
		if (ops[i].op == STM_OP_ADD && (ops[i].flags & STM_COP_FETCH))
			stm_put_le64(ops[i].fetch, (int64_t)((uint64_t)acur[i] +
					(uint64_t)stm_get_le64(ops[i].val)));
out:
	json_decref(resp);
	json_decref(req);
	json_decref(cmp);
	json_decref(succ);
	json_decref(fail);
	return ret;
}

static int etcd_commit(struct stm_store *s, struct stm_cop *ops, size_t n,
		       unsigned flags, uint32_t family, uint64_t *version,
		       uint32_t *conflict)
{
	struct etcd *e = s->priv;
	uint64_t astack[16], *aver = astack, v = 0;
	int64_t cstack[16], *acur = cstack;
	uint32_t cf = STM_NO_CONFLICT;
	bool adds = false;
	int ret;

	if (n > TXN_OPS_MAX - 2)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		/* No FETCH of a replaced value (no STMDEV_F_FETCH_OLD). */
		if (ops[i].op == STM_OP_READ && (ops[i].flags & STM_COP_FETCH))
			return -ENOTSUP;
		adds |= ops[i].op == STM_OP_ADD;
	}
	if (n > 16) {
		aver = calloc(n, sizeof(*aver));
		acur = calloc(n, sizeof(*acur));
		ret = -ENOMEM;
		if (!aver || !acur)
			goto out;
	}
	for (unsigned round = 0; round < ADD_ROUNDS; round++) {
		if (adds) {
			ret = add_read(e, ops, n, aver, acur);
			if (ret)
				goto out;
		}
		ret = commit_once(e, ops, n, aver, acur, &v, &cf);
		if (ret != 1)
			break;
	}
	if (ret == 1)
		ret = -EAGAIN;
	if (ret == 0 && version)
		*version = v;
out:
	if (conflict)
		*conflict = ret == -ESTALE ? cf : STM_NO_CONFLICT;
	fam_count(e, family, ret, flags);
	if (aver != astack)
		free(aver);
	if (acur != cstack)
		free(acur);
	return ret;
}

static int64_t waits_get(struct etcd *e);

/* ---- keys, info, stats -------------------------------------------------- */

static int etcd_keys(struct stm_store *s, struct stm_key_walk *w)
{
	struct etcd *e = s->priv;
	json_t *start, *end;
	int seen = 0, ret = 0;

	start = prefix_range(e, "k/", &end);
	if (!start || !end) {
		json_decref(start);
		json_decref(end);
		return -ENOMEM;
	}
	for (;;) {
		json_t *req, *resp = NULL, *kvs;
		size_t nk;

		req = json_pack("{s:O, s:O, s:s}", "key", start, "range_end", end,
				"limit", "500");
		ret = req ? post(e, "/v3/kv/range", req, false, &resp) : -ENOMEM;
		json_decref(req);
		if (ret)
			break;
		kvs = json_object_get(resp, "kvs");
		nk = json_array_size(kvs);
		for (size_t i = 0; i < nk && !ret; i++) {
			json_t *kv = json_array_get(kvs, i);
			uint8_t key[STM_KEY_MAX + 1];
			struct stm_key_info ki;
			long kl = kv_key(e, kv, key, STM_KEY_MAX);
			const char *v = json_string_value(json_object_get(kv, "value"));

			if (kl <= 0) {
				ret = -EPROTO;
				break;
			}
			ki.key = key;
			ki.key_len = kl;
			ki.version = jget64(kv, "mod_revision");
			ki.value_len = v ? b64dec(v, NULL, 0) : 0;
			seen++;
			ret = w->cb(&ki, w->arg);
			if (i + 1 == nk) {
				/* next page: after this key */
				json_t *k = json_object_get(kv, "key");
				uint8_t raw[PFX_MAX + 8 + STM_KEY_MAX + 1];
				long rl = b64dec(json_string_value(k), raw, sizeof(raw) - 1);

				json_decref(start);
				start = NULL;
				if (rl <= 0 || rl >= (long)sizeof(raw)) {
					ret = -EPROTO;
					break;
				}
				raw[rl] = '\0';
				start = jb64(raw, rl + 1);
			}
		}
		if (!json_is_true(json_object_get(resp, "more")) || !nk || !start) {
			json_decref(resp);
			break;
		}
		json_decref(resp);
	}
	json_decref(start);
	json_decref(end);
	return ret ? ret : seen;
}

static int sum_bytes(const struct stm_key_info *ki, void *arg)
{
	*(uint64_t *)arg += ki->key_len + ki->value_len;
	return 0;
}

static int etcd_info(struct stm_store *s, struct stm_info *out)
{
	struct etcd *e = s->priv;
	json_t *req, *resp = NULL, *k, *end, *meta, *kv;
	const char *m;
	int ret;

	k = prefix_range(e, "k/", &end);
	req = json_pack("{s:[], s:[o, {s:{s:o, s:o, s:b}}]}", "compare", "success",
			range_op(jkey(e, "meta", "", 0)), "request_range", "key", k,
			"range_end", end, "count_only", 1);
	ret = req ? txn(e, req, false, &resp) : -ENOMEM;
	json_decref(req);
	if (ret)
		return ret;
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", s->name);
	out->flags = s->flags;
	out->clock = jget64(json_object_get(resp, "header"), "revision");
	kv = resp_kv(resp, 0);
	out->unlinked = kv == NULL;
	m = json_string_value(json_object_get(kv, "value"));
	if (m) {
		char buf[256];
		long n = b64dec(m, (uint8_t *)buf, sizeof(buf) - 1);

		buf[n > 0 && n < (long)sizeof(buf) ? n : 0] = '\0';
		meta = json_loads(buf, 0, NULL);
		out->mode = json_integer_value(json_object_get(meta, "mode"));
		out->uid = json_integer_value(json_object_get(meta, "uid"));
		out->gid = json_integer_value(json_object_get(meta, "gid"));
		json_decref(meta);
	}
	out->keys = jget64(json_object_get(json_array_get(json_object_get(resp, "responses"), 1),
					   "response_range"), "count");
	json_decref(resp);
	/* Bytes (keys + values) by a walk: etcd keeps no such sum. */
	{
		struct stm_key_walk w = { sum_bytes, &out->bytes };
		int r = etcd_keys(s, &w);

		if (r < 0)
			return r;
	}
	return 0;
}

static int etcd_stats(struct stm_store *s, struct stm_stats *out)
{
	struct etcd *e = s->priv;
	struct stm_info in;
	int ret = etcd_info(s, &in);

	if (ret)
		return ret;
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&e->lock);
	out->commits = e->commits;
	out->conflicts = e->conflicts;
	out->reads = e->reads;
	out->wakeups = e->wakeups;
	pthread_mutex_unlock(&e->lock);
	out->waits = waits_get(e);
	out->keys = in.keys;
	out->bytes = in.bytes;
	return 0;
}

/* ---- waiting ------------------------------------------------------------ */

/*
 * The store-wide count of waits, key "s/waits" (a decimal string): one
 * read-modify-write as a wait begins, so that other processes see a
 * waiter in stm_stats() as they do on /dev/stm.  Best effort: a wait is
 * not failed for it.
 */
static void waits_add(struct etcd *e)
{
	for (int round = 0; round < 16; round++) {
		json_t *req, *resp = NULL, *kv;
		int64_t ver = 0, cur = 0;
		char num[24];
		int r;

		req = json_pack("{s:[], s:[o]}", "compare", "success",
				range_op(jkey(e, "s/waits", "", 0)));
		r = req ? txn(e, req, false, &resp) : -ENOMEM;
		json_decref(req);
		if (r)
			return;
		kv = resp_kv(resp, 0);
		if (kv) {
			char buf[24];
			const char *v = json_string_value(json_object_get(kv, "value"));
			long n = v ? b64dec(v, (uint8_t *)buf, sizeof(buf) - 1) : -1;

			ver = jget64(kv, "mod_revision");
			buf[n > 0 && n < (long)sizeof(buf) ? n : 0] = '\0';
			cur = strtoll(buf, NULL, 10);
		}
		json_decref(resp);
		snprintf(num, sizeof(num), "%" PRId64, cur + 1);
		req = json_pack("{s:[o], s:[{s:{s:o, s:o}}]}", "compare",
				compare_ver(jkey(e, "s/waits", "", 0), ver), "success",
				"request_put", "key", jkey(e, "s/waits", "", 0), "value",
				jb64(num, strlen(num)));
		resp = NULL;
		r = req ? txn(e, req, true, &resp) : -ENOMEM;
		json_decref(req);
		if (!r && json_is_true(json_object_get(resp, "succeeded"))) {
			json_decref(resp);
			return;
		}
		json_decref(resp);
		if (r)
			return;
	}
}

static int64_t waits_get(struct etcd *e)
{
	json_t *req, *resp = NULL;
	const char *v;
	char buf[24];
	int64_t x = 0;
	long n;

	req = json_pack("{s:[], s:[o]}", "compare", "success",
			range_op(jkey(e, "s/waits", "", 0)));
	if (!req || txn(e, req, false, &resp)) {
		json_decref(req);
		return 0;
	}
	json_decref(req);
	v = json_string_value(json_object_get(resp_kv(resp, 0), "value"));
	n = v ? b64dec(v, (uint8_t *)buf, sizeof(buf) - 1) : -1;
	if (n > 0 && n < (long)sizeof(buf)) {
		buf[n] = '\0';
		x = strtoll(buf, NULL, 10);
	}
	json_decref(resp);
	return x;
}

/* Which keys differ from their versions now: 0 with *index, 1 none yet. */
static int wait_check(struct etcd *e, const struct stm_wkey *k, size_t n,
		      unsigned flags, uint32_t *index, int64_t *rev)
{
	json_t *ops = json_array(), *resp = NULL;
	size_t differ = 0, first = n;
	int ret;

	if (!ops || json_array_append_new(ops, range_op(jkey(e, "meta", "", 0)))) {
		json_decref(ops);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(ops, json_pack("{s:{s:o, s:b}}", "request_range",
				"key", jkey(e, "k/", k[i].key, k[i].klen), "keys_only", 1))) {
			json_decref(ops);
			return -ENOMEM;
		}
	ret = snapshot(e, ops, &resp, rev);
	if (ret)
		return ret;
	if (!resp_kv(resp, 0)) {
		json_decref(resp);
		return -EIDRM;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *kv = resp_kv(resp, i + 1);
		uint64_t v = kv ? (uint64_t)jget64(kv, "mod_revision") : 0;

		if (v != k[i].version) {
			differ++;
			if (first == n)
				first = i;
		}
	}
	json_decref(resp);
	if ((flags & STM_WT_ALL) ? differ == n : differ > 0) {
		*index = first;
		return 0;
	}
	return 1;
}

static int etcd_wait(struct stm_store *s, const struct stm_wkey *k, size_t n,
		     unsigned flags, int64_t timeout_ns, uint32_t family,
		     uint32_t *index)
{
	struct etcd *e = s->priv;
	int64_t deadline = timeout_ns < 0 ? INT64_MAX :
			   now_ms() + (timeout_ns + 999999) / 1000000;
	uint32_t ix = 0;
	int ret;

	pthread_mutex_lock(&e->lock);
	e->waits++;
	if (family && family <= e->nfam)
		e->fam[family - 1].waits++;
	pthread_mutex_unlock(&e->lock);
	if (timeout_ns)
		waits_add(e);
	for (;;) {
		json_t *req, *start, *end;
		int64_t rev = 0, chunk;
		char *body;

		ret = wait_check(e, k, n, flags, &ix, &rev);
		if (ret <= 0)
			break;
		chunk = deadline - now_ms();
		if (chunk <= 0) {
			ret = -ETIMEDOUT;
			break;
		}
		if (chunk > WATCH_CHUNK_MS)
			chunk = WATCH_CHUNK_MS;
		/* Any change under the store from the revision checked on;
		 * then check again. */
		start = prefix_range(e, "", &end);
		req = json_pack("{s:{s:o, s:o, s:o}}", "create_request", "key", start,
				"range_end", end, "start_revision", ji64(rev + 1));
		body = req ? json_dumps(req, JSON_COMPACT) : NULL;
		json_decref(req);
		if (!body) {
			ret = -ENOMEM;
			break;
		}
		{
			json_t *unused = NULL;

			ret = post_body(e, "/v3/watch", body, false, true,
					now_ms() + chunk, &unused);
			json_decref(unused);
		}
		free(body);
		if (ret && ret != -ETIMEDOUT && ret != -EHOSTUNREACH && ret != -EAGAIN)
			break;
	}
	if (ret == 0) {
		pthread_mutex_lock(&e->lock);
		e->wakeups++;
		pthread_mutex_unlock(&e->lock);
		if (index)
			*index = ix;
	}
	return ret;
}

static int etcd_watch(struct stm_store *s, const struct stm_wkey *k, size_t n)
{
	(void)s;
	(void)k;
	(void)n;
	return -EOPNOTSUPP;	/* no pollable descriptor: stm_wait instead */
}

/* ---- families (client-side) --------------------------------------------- */

static int etcd_family(struct stm_store *s, const char *name, uint32_t *id)
{
	struct etcd *e = s->priv;
	int ret = -ENOSPC;

	pthread_mutex_lock(&e->lock);
	for (unsigned i = 0; i < e->nfam; i++)
		if (!strcmp(e->fam[i].name, name)) {
			*id = i + 1;
			ret = 0;
			goto out;
		}
	if (e->nfam < FAM_MAX) {
		snprintf(e->fam[e->nfam].name, sizeof(e->fam[0].name), "%s", name);
		*id = ++e->nfam;
		ret = 0;
	}
out:
	pthread_mutex_unlock(&e->lock);
	return ret;
}

static int etcd_families(struct stm_store *s,
			 int (*cb)(const struct stm_family_stats *f, void *arg),
			 void *arg)
{
	struct etcd *e = s->priv;
	struct etcd_fam copy[FAM_MAX];
	unsigned n;
	int ret;

	pthread_mutex_lock(&e->lock);
	n = e->nfam;
	memcpy(copy, e->fam, n * sizeof(copy[0]));
	pthread_mutex_unlock(&e->lock);
	for (unsigned i = 0; i < n; i++) {
		struct stm_family_stats f;

		memset(&f, 0, sizeof(f));
		f.name = copy[i].name;
		f.id = i + 1;
		f.attempts = copy[i].attempts;
		f.commits = copy[i].commits;
		f.conflicts = copy[i].conflicts;
		f.waits = copy[i].waits;
		f.retries = copy[i].retries;
		ret = cb(&f, arg);
		if (ret)
			return ret;
	}
	return n;
}

const struct stm_backend stm_etcd_backend = {
	.name = "etcd",
	.scheme = "etcd",
	.open = etcd_open,
	.close = etcd_close,
	.unlink = etcd_unlink,
	.stores = NULL,
	.read = etcd_read,
	.commit = etcd_commit,
	.keys = etcd_keys,
	.info = etcd_info,
	.stats = etcd_stats,
	.wait = etcd_wait,
	.watch = etcd_watch,
	.pollfd = NULL,
	.family = etcd_family,
	.families = etcd_families,
	.ring = NULL,
};
