// SPDX-License-Identifier: MIT
/*
 * _stmdev: the CPython extension under the stmdev package, a thin layer
 * over libstmdev (lib/stmdev.h).  Keys and values cross it as bytes; the
 * Axon classes and the Pythonic API are Python code (stmdev/__init__.py,
 * stmdev/axon.py).  The value encoding is here (encode/decode, with
 * stmdev/codec.py as its reference), and so are the hot paths of
 * stmdev.axon (Value.set/commit, Store.using: issue 13, within 2x of C).
 *
 * The GIL is released around every libstmdev call that may enter the
 * kernel.  stm_atomic() runs with the GIL released and takes it back only
 * while it calls the Python transaction function or a hook.
 *
 * Errors: a failing call raises what stmdev._errors.make_error(errno,
 * message, key) returns (a stmdev.Error subclass), so there is one place
 * that maps errno values to exception classes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

#include "stmdev.h"

/* Bounds on what one call takes from Python, before libstmdev checks its own. */
#define PYSTM_MAX_KEYS	4096

static PyObject *make_error;	/* stmdev._errors.make_error */
static PyObject *retry_exc;	/* stmdev._errors.RetryTransaction */
static PyObject *conflict_exc;	/* stmdev._errors.ConflictError */

/* Raise the stmdev exception for -err (a libstmdev return), naming @key. */
static PyObject *raise_err(int err, const void *key, size_t klen)
{
	PyObject *k = Py_None, *exc;

	if (err < 0)
		err = -err;
	if (key) {
		k = PyBytes_FromStringAndSize(key, (Py_ssize_t)klen);
		if (!k)
			return NULL;
	} else {
		Py_INCREF(k);
	}
	exc = PyObject_CallFunction(make_error, "isO", err, stm_strerror(-err), k);
	Py_DECREF(k);
	if (!exc)
		return NULL;
	PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
	Py_DECREF(exc);
	return NULL;
}

/* ---- the value encoding (stmdev/codec.py is the reference) --------------- */

/*
 * encode()/decode() below are codec.py's encode()/decode() in C, byte for
 * byte and error for error (python/tests/test_codec.py compares them); see
 * codec.py for the format.  Recursion is bounded by CODEC_MAX_DEPTH, as
 * there.  Only pickle runs Python code, and only when the store opted in.
 */
#define CODEC_MAX_DEPTH	64
#define CODEC_TAG	"\0STM"
#define CODEC_TAGLEN	4
#define CODEC_INLINE	256

static PyObject *invalid_exc;		/* stmdev._errors.InvalidArgument */
static PyObject *unencodable_exc;	/* stmdev._errors.UnencodableValue */
static PyObject *pickle_mod;		/* imported on first use */
static PyObject *pickle_proto;		/* pickle.HIGHEST_PROTOCOL */

static int pickle_import(void)
{
	if (pickle_mod)
		return 0;
	pickle_mod = PyImport_ImportModule("pickle");
	if (!pickle_mod)
		return -1;
	pickle_proto = PyObject_GetAttrString(pickle_mod, "HIGHEST_PROTOCOL");
	if (!pickle_proto) {
		Py_CLEAR(pickle_mod);
		return -1;
	}
	return 0;
}

/* A growing output buffer, CODEC_INLINE bytes of it on the stack. */
struct ebuf {
	char *p;
	size_t len, cap;
	char inl[CODEC_INLINE];
};

static void eb_init(struct ebuf *b)
{
	b->p = b->inl;
	b->len = 0;
	b->cap = sizeof(b->inl);
}

static void eb_free(struct ebuf *b)
{
	if (b->p != b->inl)
		PyMem_Free(b->p);
}

static int eb_grow(struct ebuf *b, size_t n)
{
	size_t cap = b->cap;
	char *p;

	if (n > (size_t)PY_SSIZE_T_MAX - b->len) {
		PyErr_NoMemory();
		return -1;
	}
	while (cap - b->len < n)
		cap = cap > (size_t)PY_SSIZE_T_MAX / 2 ? b->len + n : cap * 2;
	if (b->p == b->inl) {
		p = PyMem_Malloc(cap);
		if (p)
			memcpy(p, b->inl, b->len);
	} else {
		p = PyMem_Realloc(b->p, cap);
	}
	if (!p) {
		PyErr_NoMemory();
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

static inline int eb_put(struct ebuf *b, const void *d, size_t n)
{
	if (b->cap - b->len < n && eb_grow(b, n))
		return -1;
	memcpy(b->p + b->len, d, n);
	b->len += n;
	return 0;
}

static inline void put_u32(char *p, uint32_t v)
{
	p[0] = (char)v;
	p[1] = (char)(v >> 8);
	p[2] = (char)(v >> 16);
	p[3] = (char)(v >> 24);
}

static inline uint32_t get_u32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int eb_tag(struct ebuf *b, char t)
{
	char h[CODEC_TAGLEN + 1];

	memcpy(h, CODEC_TAG, CODEC_TAGLEN);
	h[CODEC_TAGLEN] = t;
	return eb_put(b, h, sizeof(h));
}

/* codec._tag(): a 3-byte payload goes lower-cased with one NUL appended. */
static int eb_tagged(struct ebuf *b, char t, const char *d, size_t n)
{
	if (n == 3) {
		if (eb_tag(b, (char)(t - 'A' + 'a')) || eb_put(b, d, 3))
			return -1;
		return eb_put(b, "", 1);
	}
	if (eb_tag(b, t))
		return -1;
	return eb_put(b, d, n);
}

/* A str's UTF-8 (surrogatepass): *tmp holds the bytes when not cached. */
static const char *str_utf8(PyObject *s, Py_ssize_t *n, PyObject **tmp)
{
	const char *p = PyUnicode_AsUTF8AndSize(s, n);

	*tmp = NULL;
	if (p)
		return p;
	if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
		return NULL;
	PyErr_Clear();	/* lone surrogates: as codec.py, surrogatepass */
	*tmp = PyUnicode_AsEncodedString(s, "utf-8", "surrogatepass");
	if (!*tmp)
		return NULL;
	*n = PyBytes_GET_SIZE(*tmp);
	return PyBytes_AS_STRING(*tmp);
}

static int encode_to(struct ebuf *b, PyObject *o, int pk, int depth);

/* The u32 length of an item, then the item (codec.py's list/dict parts). */
static int encode_item(struct ebuf *b, PyObject *o, int pk, int depth)
{
	size_t at = b->len, n;
	char z[4] = { 0 };

	if (eb_put(b, z, 4) || encode_to(b, o, pk, depth))
		return -1;
	n = b->len - at - 4;
	if (n > UINT32_MAX) {
		PyErr_SetString(PyExc_OverflowError, "an item of 4 GiB or more");
		return -1;
	}
	put_u32(b->p + at, (uint32_t)n);
	return 0;
}

static int encode_pickle(struct ebuf *b, PyObject *o)
{
	PyObject *d;
	int ret;

	if (pickle_import())
		return -1;
	d = PyObject_CallMethod(pickle_mod, "dumps", "OO", o, pickle_proto);
	if (!d)
		return -1;
	if (!PyBytes_Check(d)) {
		Py_DECREF(d);
		PyErr_SetString(PyExc_TypeError, "pickle.dumps did not return bytes");
		return -1;
	}
	ret = eb_tag(b, 'P') || eb_put(b, PyBytes_AS_STRING(d), (size_t)PyBytes_GET_SIZE(d));
	Py_DECREF(d);
	return ret ? -1 : 0;
}

static int encode_to(struct ebuf *b, PyObject *o, int pk, int depth)
{
	PyTypeObject *t = Py_TYPE(o);
	Py_ssize_t n, i;
	int ret = -1;

	if (t == &PyLong_Type) {
		int over = 0;
		long long v = PyLong_AsLongLongAndOverflow(o, &over);
		PyObject *s;

		if (v == -1 && PyErr_Occurred())
			return -1;
		if (!over) {
			unsigned char le[8];

			for (i = 0; i < 8; i++)
				le[i] = (unsigned char)((unsigned long long)v >> (8 * i));
			return eb_put(b, le, 8);
		}
		s = PyObject_Str(o);
		if (!s)
			return -1;
		{
			Py_ssize_t sl;
			const char *sp = PyUnicode_AsUTF8AndSize(s, &sl);

			ret = !sp || eb_tag(b, 'I') || eb_put(b, sp, (size_t)sl) ? -1 : 0;
		}
		Py_DECREF(s);
		return ret;
	}
	if (t == &PyBytes_Type) {
		const char *d = PyBytes_AS_STRING(o);

		n = PyBytes_GET_SIZE(o);
		if (n != 8 && !(n >= CODEC_TAGLEN && !memcmp(d, CODEC_TAG, CODEC_TAGLEN)))
			return eb_put(b, d, (size_t)n);
		return eb_tagged(b, 'B', d, (size_t)n);
	}
	if (o == Py_None)
		return eb_tag(b, 'N');
	if (t == &PyBool_Type)
		return eb_tag(b, o == Py_True ? 'T' : 'F');
	if (t == &PyUnicode_Type) {
		PyObject *tmp;
		const char *d = str_utf8(o, &n, &tmp);

		ret = d ? eb_tagged(b, 'S', d, (size_t)n) : -1;
		Py_XDECREF(tmp);
		return ret;
	}
	if (t == &PyFloat_Type) {
		char d[8];

		if (PyFloat_Pack8(PyFloat_AS_DOUBLE(o), d, 1) || eb_tag(b, 'D'))
			return -1;
		return eb_put(b, d, 8);
	}
	if (depth >= CODEC_MAX_DEPTH) {
		PyErr_Format(unencodable_exc, "value nested more than %d deep", CODEC_MAX_DEPTH);
		return -1;
	}
	if (t == &PyList_Type || t == &PyTuple_Type) {
		/* A snapshot of the items: pickling one cannot change the rest. */
		PyObject *items = PySequence_Tuple(o);
		char h[4];

		if (!items)
			return -1;
		n = PyTuple_GET_SIZE(items);
		put_u32(h, (uint32_t)n);
		if (eb_tag(b, t == &PyList_Type ? 'L' : 'U') || eb_put(b, h, 4))
			goto out_items;
		for (i = 0; i < n; i++)
			if (encode_item(b, PyTuple_GET_ITEM(items, i), pk, depth + 1))
				goto out_items;
		ret = 0;
out_items:
		Py_DECREF(items);
		return ret;
	}
	if (t == &PyDict_Type) {
		PyObject *items = PyDict_Items(o);
		char h[4];

		if (!items)
			return -1;
		n = PyList_GET_SIZE(items);
		put_u32(h, (uint32_t)n);
		if (eb_tag(b, 'M') || eb_put(b, h, 4))
			goto out_kv;
		for (i = 0; i < n; i++) {
			PyObject *kv = PyList_GET_ITEM(items, i);

			if (encode_item(b, PyTuple_GET_ITEM(kv, 0), pk, depth + 1) ||
			    encode_item(b, PyTuple_GET_ITEM(kv, 1), pk, depth + 1))
				goto out_kv;
		}
		ret = 0;
out_kv:
		Py_DECREF(items);
		return ret;
	}
	if (t == &PyByteArray_Type || t == &PyMemoryView_Type) {
		PyObject *by = PyBytes_FromObject(o);

		if (!by)
			return -1;
		ret = encode_to(b, by, pk, depth);
		Py_DECREF(by);
		return ret;
	}
	if (pk)
		return encode_pickle(b, o);
	PyErr_Format(unencodable_exc,
		     "cannot store a %s: stmdev stores None, bool, int, float, str, bytes, "
		     "list, tuple and dict (open the store with pickle=True for other types)",
		     t->tp_name);
	return -1;
}

/* The bytes stored for @o (codec.encode). */
static PyObject *codec_encode(PyObject *o, int pk)
{
	struct ebuf b;
	PyObject *out = NULL;

	if (Py_TYPE(o) == &PyBytes_Type && PyBytes_GET_SIZE(o) != 8 &&
	    (PyBytes_GET_SIZE(o) < CODEC_TAGLEN ||
	     memcmp(PyBytes_AS_STRING(o), CODEC_TAG, CODEC_TAGLEN))) {
		Py_INCREF(o);
		return o;
	}
	eb_init(&b);
	if (!encode_to(&b, o, pk, 0))
		out = PyBytes_FromStringAndSize(b.p, (Py_ssize_t)b.len);
	eb_free(&b);
	return out;
}

/*
 * Raise InvalidArgument(EINVAL, "malformed stmdev value: " + why), its
 * __cause__ the exception pending (if any), as codec.py's "raise ... from e".
 */
static PyObject *codec_bad(const char *fmt, ...)
{
	PyObject *et = NULL, *ev = NULL, *etb = NULL, *msg, *exc;
	va_list ap;

	if (PyErr_Occurred()) {
		PyErr_Fetch(&et, &ev, &etb);
		PyErr_NormalizeException(&et, &ev, &etb);
	}
	va_start(ap, fmt);
	msg = PyUnicode_FromFormatV(fmt, ap);
	va_end(ap);
	exc = msg ? PyObject_CallFunction(invalid_exc, "iO", EINVAL, msg) : NULL;
	Py_XDECREF(msg);
	if (exc) {
		if (ev) {
			if (etb)
				PyException_SetTraceback(ev, etb);
			PyException_SetCause(exc, ev);	/* steals ev */
			ev = NULL;
		}
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	Py_XDECREF(et);
	Py_XDECREF(ev);
	Py_XDECREF(etb);
	return NULL;
}

static PyObject *decode_at(PyObject *whole, const unsigned char *d, Py_ssize_t n,
			   int pk, int depth);

/* codec._items(): @cnt items of u32 length + encoding, exactly filling p[pos:end]. */
static PyObject *decode_items(const unsigned char *p, Py_ssize_t end, Py_ssize_t pos,
			      unsigned long long cnt, int pk, int depth)
{
	PyObject *out, *x;
	Py_ssize_t i;

	if (cnt > (unsigned long long)end)
		return codec_bad("malformed stmdev value: count %llu over the data", cnt);
	out = PyList_New((Py_ssize_t)cnt);
	if (!out)
		return NULL;
	for (i = 0; i < (Py_ssize_t)cnt; i++) {
		uint32_t ln;

		if (pos + 4 > end) {
			codec_bad("malformed stmdev value: item length cut");
			goto fail;
		}
		ln = get_u32(p + pos);
		pos += 4;
		if ((Py_ssize_t)ln > end - pos) {
			codec_bad("malformed stmdev value: item longer than the data");
			goto fail;
		}
		x = decode_at(NULL, p + pos, ln, pk, depth + 1);
		if (!x)
			goto fail;
		PyList_SET_ITEM(out, i, x);
		pos += ln;
	}
	if (pos != end) {
		codec_bad("malformed stmdev value: trailing bytes");
		goto fail;
	}
	return out;
fail:
	Py_DECREF(out);
	return NULL;
}

static PyObject *decode_pickle(const unsigned char *p, Py_ssize_t n, int pk)
{
	PyObject *by, *r;

	if (!pk)
		return codec_bad("the value is pickled; this store was not opened "
				 "with pickle=True, and unpickling runs code");
	if (pickle_import())
		return NULL;
	by = PyBytes_FromStringAndSize((const char *)p, n);
	if (!by)
		return NULL;
	r = PyObject_CallMethod(pickle_mod, "loads", "O", by);
	Py_DECREF(by);
	return r;
}

/*
 * codec._decode() of d[0:n]; @whole is the bytes object d is all of, if
 * there is one (returned as it is for raw data).
 */
static PyObject *decode_at(PyObject *whole, const unsigned char *d, Py_ssize_t n,
			   int pk, int depth)
{
	const unsigned char *p = d + CODEC_TAGLEN + 1;
	Py_ssize_t pl = n - CODEC_TAGLEN - 1;
	char t;

	if (n == 8) {
		unsigned long long v = 0;
		int i;

		for (i = 7; i >= 0; i--)
			v = v << 8 | d[i];
		return PyLong_FromLongLong((long long)v);
	}
	if (n < CODEC_TAGLEN + 1 || memcmp(d, CODEC_TAG, CODEC_TAGLEN)) {
		if (whole) {
			Py_INCREF(whole);
			return whole;
		}
		return PyBytes_FromStringAndSize((const char *)d, n);
	}
	if (depth > CODEC_MAX_DEPTH)
		return codec_bad("malformed stmdev value: nested more than %d deep",
				 CODEC_MAX_DEPTH);
	t = (char)d[CODEC_TAGLEN];
	if (t == 's' || t == 'b') {
		if (pl != 4 || p[3] != 0)
			return codec_bad("malformed stmdev value: padded str/bytes not 3 bytes + NUL");
		t = (char)(t - 'a' + 'A');
		pl = 3;
	}
	switch (t) {
	case 'S': {
		PyObject *s = PyUnicode_DecodeUTF8((const char *)p, pl, "surrogatepass");

		if (!s && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
			return codec_bad("malformed stmdev value: str not UTF-8");
		return s;
	}
	case 'N':
		if (!pl)
			Py_RETURN_NONE;
		break;
	case 'T':
		if (!pl)
			Py_RETURN_TRUE;
		break;
	case 'F':
		if (!pl)
			Py_RETURN_FALSE;
		break;
	case 'B':
		return PyBytes_FromStringAndSize((const char *)p, pl);
	case 'D':
		if (pl == 8) {
			double x = PyFloat_Unpack8((const char *)p, 1);

			if (x == -1.0 && PyErr_Occurred())
				return NULL;
			return PyFloat_FromDouble(x);
		}
		break;
	case 'I':
		if (pl > 0 && pl <= 4096) {
			PyObject *s = PyUnicode_DecodeASCII((const char *)p, pl, NULL), *v;

			v = s ? PyLong_FromUnicodeObject(s, 10) : NULL;
			Py_XDECREF(s);
			if (!v && PyErr_ExceptionMatches(PyExc_ValueError))
				return codec_bad("malformed stmdev value: int");
			return v;
		}
		break;
	case 'L':
	case 'U':
	case 'M':
		if (pl >= 4) {
			unsigned long long cnt = get_u32(p);
			PyObject *items, *r;
			Py_ssize_t i;

			if (t != 'M') {
				items = decode_items(p, pl, 4, cnt, pk, depth);
				if (!items || t == 'L')
					return items;
				r = PyList_AsTuple(items);
				Py_DECREF(items);
				return r;
			}
			if (cnt > (unsigned long long)pl)
				return codec_bad("malformed stmdev value: count %llu over the data",
						 cnt);
			items = decode_items(p, pl, 4, 2 * cnt, pk, depth);
			if (!items)
				return NULL;
			r = PyDict_New();
			for (i = 0; r && i < PyList_GET_SIZE(items); i += 2) {
				if (PyDict_SetItem(r, PyList_GET_ITEM(items, i),
						   PyList_GET_ITEM(items, i + 1))) {
					Py_CLEAR(r);
					if (PyErr_ExceptionMatches(PyExc_TypeError))
						codec_bad("malformed stmdev value: unhashable dict key");
				}
			}
			Py_DECREF(items);
			return r;
		}
		break;
	case 'P':
		return decode_pickle(p, pl, pk);
	}
	{
		PyObject *tb = PyBytes_FromStringAndSize(&t, 1);

		if (!tb)
			return NULL;
		codec_bad("malformed stmdev value: unknown type %R", tb);
		Py_DECREF(tb);
		return NULL;
	}
}

/* The value stored as @data, bytes or None (codec.decode). */
static PyObject *codec_decode(PyObject *data, int pk)
{
	if (data == Py_None)
		Py_RETURN_NONE;
	return decode_at(data, (const unsigned char *)PyBytes_AS_STRING(data),
			 PyBytes_GET_SIZE(data), pk, 0);
}

/* encode(obj, allow_pickle=False) -> bytes: codec.encode in C. */
static PyObject *mod_encode(PyObject *m, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "obj", "allow_pickle", NULL };
	PyObject *o;
	int pk = 0;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p", kwlist, &o, &pk))
		return NULL;
	return codec_encode(o, pk);
}

/* decode(data, allow_pickle=False) -> the value: codec.decode in C. */
static PyObject *mod_decode(PyObject *m, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "data", "allow_pickle", NULL };
	PyObject *d, *out;
	Py_buffer b;
	int pk = 0;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p", kwlist, &d, &pk))
		return NULL;
	if (d == Py_None || PyBytes_CheckExact(d))
		return codec_decode(d, pk);
	/* bytearray, memoryview: decoded from a copy (raw data comes back as bytes) */
	if (PyObject_GetBuffer(d, &b, PyBUF_SIMPLE))
		return NULL;
	out = decode_at(NULL, b.buf, b.len, pk, 0);
	PyBuffer_Release(&b);
	return out;
}

/* ---- Store --------------------------------------------------------------- */

typedef struct {
	PyObject_HEAD
	struct stm_store *s;
	PyThread_type_lock lock;	/* held by calls using s, so close waits */
	int users;			/* calls in progress (under the GIL) */
} StoreObject;

static PyTypeObject StoreType;

static int store_enter(StoreObject *self)
{
	if (!self->s) {
		PyObject *e = PyObject_CallFunction(make_error, "isO", EBADF,
						    "the store is closed", Py_None);

		if (e) {
			PyErr_SetObject((PyObject *)Py_TYPE(e), e);
			Py_DECREF(e);
		}
		return -1;
	}
	self->users++;
	return 0;
}

static void store_leave(StoreObject *self)
{
	self->users--;
}

static int store_init(StoreObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "name", "flags", "mode", NULL };
	const char *name;
	int flags = 0, mode = 0600, ret;
	struct stm_store *s = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|ii", kwlist, &name, &flags, &mode))
		return -1;
	if (self->s) {
		PyErr_SetString(PyExc_RuntimeError, "store already open");
		return -1;
	}
	Py_BEGIN_ALLOW_THREADS
	ret = stm_open(name, flags, (mode_t)mode, &s);
	Py_END_ALLOW_THREADS
	if (ret) {
		raise_err(ret, NULL, 0);
		return -1;
	}
	self->s = s;
	return 0;
}

static void store_dealloc(StoreObject *self)
{
	if (self->s)
		stm_close(self->s);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *store_close(StoreObject *self, PyObject *noargs)
{
	struct stm_store *s = self->s;

	if (s && self->users > 0) {
		PyErr_SetString(PyExc_RuntimeError,
				"close() while a call on this store is running (a transaction, a wait)");
		return NULL;
	}
	self->s = NULL;
	if (s) {
		Py_BEGIN_ALLOW_THREADS
		stm_close(s);
		Py_END_ALLOW_THREADS
	}
	Py_RETURN_NONE;
}

static PyObject *store_closed(StoreObject *self, void *c)
{
	return PyBool_FromLong(self->s == NULL);
}

static PyObject *store_name(StoreObject *self, void *c)
{
	if (!self->s)
		Py_RETURN_NONE;
	return PyUnicode_FromString(stm_store_name(self->s));
}

/* Fill keys[]/lens[] from a sequence of bytes; returns n or -1. */
static Py_ssize_t key_array(PyObject *seq, PyObject **fast, const void ***keys,
			    size_t **lens, int need_nul_free)
{
	Py_ssize_t n, i;

	*fast = PySequence_Fast(seq, "keys must be a sequence of bytes");
	if (!*fast)
		return -1;
	n = PySequence_Fast_GET_SIZE(*fast);
	if (n > PYSTM_MAX_KEYS) {
		Py_CLEAR(*fast);
		raise_err(E2BIG, NULL, 0);
		return -1;
	}
	*keys = PyMem_Calloc(n ? n : 1, sizeof(**keys));
	*lens = PyMem_Calloc(n ? n : 1, sizeof(**lens));
	if (!*keys || !*lens) {
		PyMem_Free(*keys);
		PyMem_Free(*lens);
		Py_CLEAR(*fast);
		PyErr_NoMemory();
		return -1;
	}
	for (i = 0; i < n; i++) {
		PyObject *k = PySequence_Fast_GET_ITEM(*fast, i);

		if (!PyBytes_Check(k)) {
			PyErr_SetString(PyExc_TypeError, "key must be bytes");
			goto fail;
		}
		(*keys)[i] = PyBytes_AS_STRING(k);
		(*lens)[i] = (size_t)PyBytes_GET_SIZE(k);
		if (need_nul_free && memchr((*keys)[i], 0, (*lens)[i])) {
			PyErr_SetString(PyExc_ValueError, "this call takes keys without NUL bytes");
			goto fail;
		}
	}
	return n;
fail:
	PyMem_Free(*keys);
	PyMem_Free(*lens);
	Py_CLEAR(*fast);
	return -1;
}

static PyObject *data_obj(const void *data, size_t len)
{
	if (!data)
		Py_RETURN_NONE;
	return PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
}

/*
 * read(keys) -> [(version, data or None), ...]: one snapshot (stm_using).
 */
static PyObject *store_read(StoreObject *self, PyObject *seq)
{
	PyObject *fast = NULL, *out = NULL;
	const void **keys = NULL;
	size_t *lens = NULL;
	struct stm_coll *c = NULL;
	Py_ssize_t n, i;
	int ret;

	if (store_enter(self))
		return NULL;
	n = key_array(seq, &fast, &keys, &lens, 0);
	if (n < 0)
		goto out;
	Py_BEGIN_ALLOW_THREADS
	ret = stm_using_n(self->s, keys, lens, (size_t)n, &c);
	Py_END_ALLOW_THREADS
	if (ret) {
		raise_err(ret, NULL, 0);
		goto out;
	}
	out = PyList_New(n);
	if (!out)
		goto out;
	for (i = 0; i < n; i++) {
		struct stm_value *v = stm_coll_get_n(c, keys[i], lens[i]);
		const void *d = NULL;
		size_t dl = 0;
		PyObject *t;

		if (v)
			d = stm_value_data(v, &dl);
		t = Py_BuildValue("(KN)", (unsigned long long)(v ? stm_value_version(v) : 0),
				  data_obj(d, dl));
		if (!t) {
			Py_CLEAR(out);
			goto out;
		}
		PyList_SET_ITEM(out, i, t);
	}
out:
	stm_coll_free(c);
	if (fast) {
		PyMem_Free(keys);
		PyMem_Free(lens);
		Py_DECREF(fast);
	}
	store_leave(self);
	return out;
}

/*
 * commit(items) -> (new_version, None) or (0, conflict_index):
 * items are (key, version, data or None for delete); one commit checked
 * against each version (0: the key must be absent).  A conflict returns the
 * index of the key that changed instead of raising, so the Axon layer can
 * raise its own ConcurrentUpdate; every other failure raises.
 *
 * Built on stm_using_n + stm_coll_commit: the read gives each key's current
 * version; a key not at the caller's version conflicts at once, else the
 * commit validates against the read's (equal) versions.
 */
static PyObject *store_commit(StoreObject *self, PyObject *seq)
{
	PyObject *fast = NULL, *keyseq = NULL, *out = NULL;
	const void **keys = NULL;
	size_t *lens = NULL;
	struct stm_coll *c = NULL;
	Py_ssize_t n, i;
	int ret;

	if (store_enter(self))
		return NULL;
	fast = PySequence_Fast(seq, "commit takes a sequence of (key, version, data)");
	if (!fast)
		goto out;
	n = PySequence_Fast_GET_SIZE(fast);
	keyseq = PyList_New(n);
	if (!keyseq)
		goto out;
	for (i = 0; i < n; i++) {
		PyObject *it = PySequence_Fast_GET_ITEM(fast, i);

		if (!PyTuple_Check(it) || PyTuple_GET_SIZE(it) != 3) {
			PyErr_SetString(PyExc_TypeError, "commit item must be (key, version, data)");
			goto out;
		}
		Py_INCREF(PyTuple_GET_ITEM(it, 0));
		PyList_SET_ITEM(keyseq, i, PyTuple_GET_ITEM(it, 0));
	}
	{
		PyObject *kf = NULL;
		Py_ssize_t m = key_array(keyseq, &kf, &keys, &lens, 0);

		if (m < 0)
			goto out;
		Py_DECREF(kf);	/* keyseq keeps the bytes alive */
	}
	Py_BEGIN_ALLOW_THREADS
	ret = stm_using_n(self->s, keys, lens, (size_t)n, &c);
	Py_END_ALLOW_THREADS
	if (ret) {
		raise_err(ret, NULL, 0);
		goto out;
	}
	for (i = 0; i < n; i++) {
		PyObject *it = PySequence_Fast_GET_ITEM(fast, i);
		unsigned long long want = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(it, 1));
		PyObject *d = PyTuple_GET_ITEM(it, 2);
		struct stm_value *v = stm_coll_get_n(c, keys[i], lens[i]);

		if (want == (unsigned long long)-1 && PyErr_Occurred())
			goto out;
		if (!v) {
			raise_err(EINVAL, keys[i], lens[i]);
			goto out;
		}
		if (stm_value_version(v) != want) {
			out = Py_BuildValue("(Kn)", 0ULL, i);
			goto out;
		}
		if (d == Py_None) {
			ret = stm_value_del(v);
		} else if (PyBytes_Check(d)) {
			ret = stm_value_set(v, PyBytes_AS_STRING(d), (size_t)PyBytes_GET_SIZE(d));
		} else {
			PyErr_SetString(PyExc_TypeError, "commit data must be bytes or None");
			goto out;
		}
		if (ret) {
			raise_err(ret, keys[i], lens[i]);
			goto out;
		}
	}
	Py_BEGIN_ALLOW_THREADS
	ret = stm_coll_commit(c);
	Py_END_ALLOW_THREADS
	if (ret == -STM_ECONFLICT) {
		struct stm_value *cv = stm_coll_conflict(c);

		for (i = 0; i < n; i++)
			if (cv && stm_coll_get_n(c, keys[i], lens[i]) == cv)
				break;
		out = Py_BuildValue("(Kn)", 0ULL, i < n ? i : 0);
	} else if (ret) {
		raise_err(ret, NULL, 0);
	} else {
		unsigned long long ver = n ? stm_value_version(stm_coll_at(c, 0)) : 0;

		out = Py_BuildValue("(KO)", ver, Py_None);
	}
out:
	stm_coll_free(c);
	PyMem_Free(keys);
	PyMem_Free(lens);
	Py_XDECREF(keyseq);
	Py_XDECREF(fast);
	store_leave(self);
	return out;
}

/* cas(key, expected_version, data) -> new version; conflict raises. */
static PyObject *store_cas(StoreObject *self, PyObject *args)
{
	Py_buffer k, d;
	unsigned long long want;
	uint64_t nv = 0;
	int ret;

	if (!PyArg_ParseTuple(args, "y*Ky*", &k, &want, &d))
		return NULL;
	if (store_enter(self)) {
		PyBuffer_Release(&k);
		PyBuffer_Release(&d);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	ret = stm_cas_n(self->s, k.buf, (size_t)k.len, want, d.buf, (size_t)d.len, &nv);
	Py_END_ALLOW_THREADS
	store_leave(self);
	if (ret)
		raise_err(ret, k.buf, (size_t)k.len);
	PyBuffer_Release(&k);
	PyBuffer_Release(&d);
	if (ret)
		return NULL;
	return PyLong_FromUnsignedLongLong(nv);
}

/* fetch_add(key, delta) -> the value after the addition (stm_fetch_add). */
static PyObject *store_fetch_add(StoreObject *self, PyObject *args)
{
	Py_buffer k;
	long long delta;
	int64_t old = 0;
	int ret;

	if (!PyArg_ParseTuple(args, "y*L", &k, &delta))
		return NULL;
	if (store_enter(self)) {
		PyBuffer_Release(&k);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	ret = stm_fetch_add_n(self->s, k.buf, (size_t)k.len, delta, &old);
	Py_END_ALLOW_THREADS
	store_leave(self);
	if (ret)
		raise_err(ret, k.buf, (size_t)k.len);
	PyBuffer_Release(&k);
	if (ret)
		return NULL;
	return PyLong_FromLongLong(old);
}

/* swap(key, data) -> (old version, old data or None). */
static PyObject *store_swap(StoreObject *self, PyObject *args)
{
	Py_buffer k, d;
	struct stm_value *old = NULL;
	PyObject *out = NULL;
	int ret;

	if (!PyArg_ParseTuple(args, "y*y*", &k, &d))
		return NULL;
	if (store_enter(self)) {
		PyBuffer_Release(&k);
		PyBuffer_Release(&d);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	ret = stm_swap_n(self->s, k.buf, (size_t)k.len, d.buf, (size_t)d.len, &old);
	Py_END_ALLOW_THREADS
	store_leave(self);
	if (ret) {
		raise_err(ret, k.buf, (size_t)k.len);
	} else {
		size_t dl = 0;
		const void *dd = stm_value_data(old, &dl);

		out = Py_BuildValue("(KN)", (unsigned long long)stm_value_version(old),
				    data_obj(dd, dl));
	}
	stm_value_free(old);
	PyBuffer_Release(&k);
	PyBuffer_Release(&d);
	return out;
}

static int names_cb(const void *key, size_t len, void *arg)
{
	PyObject *b;
	int ret;
	PyGILState_STATE g = PyGILState_Ensure();

	b = PyBytes_FromStringAndSize(key, (Py_ssize_t)len);
	ret = b ? PyList_Append((PyObject *)arg, b) : -1;
	Py_XDECREF(b);
	PyGILState_Release(g);
	return ret ? 1 : 0;
}

/* names() -> [key bytes, ...] (not a snapshot; see stm_names). */
static PyObject *store_names(StoreObject *self, PyObject *noargs)
{
	PyObject *l;
	int ret;

	if (store_enter(self))
		return NULL;
	l = PyList_New(0);
	if (!l) {
		store_leave(self);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	ret = stm_names(self->s, names_cb, l);
	Py_END_ALLOW_THREADS
	store_leave(self);
	if (PyErr_Occurred() || ret < 0) {
		if (!PyErr_Occurred())
			raise_err(ret, NULL, 0);
		Py_DECREF(l);
		return NULL;
	}
	return l;
}

/* fd() -> the pollable descriptor of the watch set. */
static PyObject *store_fd(StoreObject *self, PyObject *noargs)
{
	int fd;

	if (store_enter(self))
		return NULL;
	fd = stm_store_fd(self->s);
	store_leave(self);
	if (fd < 0)
		return raise_err(fd, NULL, 0);
	return PyLong_FromLong(fd);
}

/* watch(keys): arm the watch set (stm_watch_n). */
static PyObject *store_watch(StoreObject *self, PyObject *seq)
{
	PyObject *fast = NULL;
	const void **keys = NULL;
	size_t *lens = NULL;
	Py_ssize_t n;
	int ret;

	if (store_enter(self))
		return NULL;
	n = key_array(seq, &fast, &keys, &lens, 0);
	if (n < 0) {
		store_leave(self);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	ret = stm_watch_n(self->s, keys, lens, (size_t)n);
	Py_END_ALLOW_THREADS
	PyMem_Free(keys);
	PyMem_Free(lens);
	Py_DECREF(fast);
	store_leave(self);
	if (ret)
		return raise_err(ret, NULL, 0);
	Py_RETURN_NONE;
}

/* wait(keys, versions, all, timeout_ms) -> index of the first changed key. */
static PyObject *store_wait(StoreObject *self, PyObject *args)
{
	PyObject *kseq, *vseq, *fast = NULL, *vfast = NULL, *out = NULL;
	const void **keys = NULL;
	size_t *lens = NULL;
	uint64_t *vers = NULL;
	int all, tmo, ret;
	Py_ssize_t n, i;

	if (!PyArg_ParseTuple(args, "OOpi", &kseq, &vseq, &all, &tmo))
		return NULL;
	if (store_enter(self))
		return NULL;
	n = key_array(kseq, &fast, &keys, &lens, 1);
	if (n < 0)
		goto out;
	vfast = PySequence_Fast(vseq, "versions must be a sequence");
	if (!vfast)
		goto out;
	if (PySequence_Fast_GET_SIZE(vfast) != n) {
		PyErr_SetString(PyExc_ValueError, "as many versions as keys");
		goto out;
	}
	vers = PyMem_Calloc(n ? n : 1, sizeof(*vers));
	if (!vers) {
		PyErr_NoMemory();
		goto out;
	}
	for (i = 0; i < n; i++) {
		vers[i] = PyLong_AsUnsignedLongLong(PySequence_Fast_GET_ITEM(vfast, i));
		if (vers[i] == (uint64_t)-1 && PyErr_Occurred())
			goto out;
	}
	Py_BEGIN_ALLOW_THREADS
	ret = stm_wait(self->s, (const char *const *)keys, vers, (size_t)n,
		       all ? STM_WAIT_ALL : STM_WAIT_ANY, tmo);
	Py_END_ALLOW_THREADS
	if (ret < 0) {
		if (ret == -EINTR && PyErr_CheckSignals())
			goto out;
		raise_err(ret, NULL, 0);
		goto out;
	}
	out = PyLong_FromLong(ret);
out:
	PyMem_Free(vers);
	if (fast) {
		PyMem_Free(keys);
		PyMem_Free(lens);
		Py_DECREF(fast);
	}
	Py_XDECREF(vfast);
	store_leave(self);
	return out;
}

/* last_conflict() -> key bytes or None. */
static PyObject *store_last_conflict(StoreObject *self, PyObject *noargs)
{
	char buf[STM_KEY_MAX + 1];
	int n;

	if (store_enter(self))
		return NULL;
	n = stm_last_conflict(self->s, buf, sizeof(buf));
	store_leave(self);
	if (n < 0)
		return raise_err(n, NULL, 0);
	if (n == 0)
		Py_RETURN_NONE;
	return PyBytes_FromStringAndSize(buf, n > STM_KEY_MAX ? STM_KEY_MAX : n);
}

/* limits() -> dict of the store's limits. */
static PyObject *store_limits(StoreObject *self, PyObject *noargs)
{
	struct stm_limits l;
	int ret;

	if (store_enter(self))
		return NULL;
	ret = stm_limits(self->s, &l);
	store_leave(self);
	if (ret)
		return raise_err(ret, NULL, 0);
	return Py_BuildValue("{s:K,s:K,s:K,s:K}",
			     "max_key_len", (unsigned long long)l.max_key_len,
			     "max_value_size", (unsigned long long)l.max_value_size,
			     "max_keys_per_call", (unsigned long long)l.max_keys_per_call,
			     "features", (unsigned long long)l.features);
}

/* ---- stmdev.axon's hot paths ---------------------------------------------- */

/*
 * Axon's Value.set + Value.commit and Store.using, done here without a
 * Python frame (issue 13: within 2x of the C library).  stmdev.axon
 * registers its classes with _axon_init(); the behaviour is axon.py's:
 * Value is a Python class whose base (AxonValue) holds no state, its four
 * attributes live in its __dict__ as before.
 */
static PyObject *axon_store_set;	/* axon.Store.set: commit() calls it if overridden */
static PyObject *axon_conflict_exc;	/* axon.ConcurrentUpdate */
static PyObject *axon_busy_exc;		/* axon.BusyRetry */
static PyObject *axon_value_cls;	/* axon.Value */
static PyObject *axon_coll_cls;		/* axon.Collection */
static PyObject *empty_tuple;
#define AXON_FAST_KEYS	32	/* using() of more keys: the general path */
static PyObject *s_version, *s_value, *s_store, *s_key, *s_raw, *s_pk, *s_set, *s_store_;

/*
 * stmdev.key_bytes(): a str (UTF-8, surrogatepass) or bytes key of
 * 1..KEY_MAX bytes; *tmp holds bytes to release when a str needed them.
 */
static const char *key_view(PyObject *key, Py_ssize_t *n, PyObject **tmp)
{
	const char *p;

	*tmp = NULL;
	if (PyBytes_CheckExact(key)) {
		p = PyBytes_AS_STRING(key);
		*n = PyBytes_GET_SIZE(key);
	} else if (PyUnicode_CheckExact(key)) {
		p = str_utf8(key, n, tmp);
		if (!p)
			return NULL;
	} else {
		PyObject *e = PyObject_CallFunction(invalid_exc, "iN", EINVAL,
			PyUnicode_FromFormat("a key is a str or bytes, not %s",
					     Py_TYPE(key)->tp_name));

		if (e) {
			PyErr_SetObject((PyObject *)Py_TYPE(e), e);
			Py_DECREF(e);
		}
		return NULL;
	}
	if (*n < 1 || *n > STM_KEY_MAX) {
		PyObject *e = PyObject_CallFunction(invalid_exc, "iNy#", EINVAL,
			PyUnicode_FromFormat("a key is 1..%d bytes, this one is %zd",
					     STM_KEY_MAX, *n),
			p, *n > STM_KEY_MAX ? (Py_ssize_t)STM_KEY_MAX : *n);

		if (e) {
			PyErr_SetObject((PyObject *)Py_TYPE(e), e);
			Py_DECREF(e);
		}
		Py_CLEAR(*tmp);
		return NULL;
	}
	return p;
}

/* Raise for -err as the axon layer does: Axon's classes for conflict and busy. */
static PyObject *axon_raise(int err, const void *k, size_t kl)
{
	PyObject *cls = NULL, *kb;

	if (err == -STM_ECONFLICT)
		cls = axon_conflict_exc;
	else if (err == -STM_EBUSY)
		cls = axon_busy_exc;
	if (!cls)
		return raise_err(err, k, kl);
	kb = k ? PyBytes_FromStringAndSize(k, (Py_ssize_t)kl) : Py_NewRef(Py_None);
	if (kb) {
		PyErr_SetObject(cls, kb);
		Py_DECREF(kb);
	}
	return NULL;
}

/*
 * axon_set(key, version, value, pickle) -> the new version: axon's
 * Store.set(key, Value) — encode, stm_cas_n against version.
 */
static PyObject *axon_cas(StoreObject *self, PyObject *key, PyObject *version,
			  PyObject *value, int pk)
{
	PyObject *tmp = NULL, *out = NULL;
	unsigned long long want;
	struct ebuf b;
	const char *k, *d;
	Py_ssize_t kl, dl;
	uint64_t nv = 0;
	int ret;

	/* codec_encode() without its bytes object: the value is passed as is. */
	eb_init(&b);
	if (PyBytes_CheckExact(value) && PyBytes_GET_SIZE(value) != 8 &&
	    (PyBytes_GET_SIZE(value) < CODEC_TAGLEN ||
	     memcmp(PyBytes_AS_STRING(value), CODEC_TAG, CODEC_TAGLEN))) {
		d = PyBytes_AS_STRING(value);
		dl = PyBytes_GET_SIZE(value);
	} else if (!encode_to(&b, value, pk, 0)) {
		d = b.p;
		dl = (Py_ssize_t)b.len;
	} else {
		goto out;
	}
	k = key_view(key, &kl, &tmp);
	if (!k)
		goto out;
	want = PyLong_AsUnsignedLongLongMask(version);
	if (want == (unsigned long long)-1 && PyErr_Occurred())
		goto out;
	if (store_enter(self))
		goto out;
	Py_BEGIN_ALLOW_THREADS
	ret = stm_cas_n(self->s, k, (size_t)kl, want, d, (size_t)dl, &nv);
	Py_END_ALLOW_THREADS
	store_leave(self);
	if (ret)
		axon_raise(ret, k, (size_t)kl);
	else
		out = PyLong_FromUnsignedLongLong(nv);
out:
	Py_XDECREF(tmp);
	eb_free(&b);
	return out;
}

static PyObject *store_axon_set(StoreObject *self, PyObject *const *a, Py_ssize_t n)
{
	int pk;

	if (n != 4) {
		PyErr_SetString(PyExc_TypeError, "axon_set(key, version, value, pickle)");
		return NULL;
	}
	pk = PyObject_IsTrue(a[3]);
	if (pk < 0)
		return NULL;
	return axon_cas(self, a[0], a[1], a[2], pk);
}

/* A Value(version, value, store, key) without running Python code. */
static PyObject *axon_value_new(PyObject *version, PyObject *value, PyObject *store,
				PyObject *key)
{
	PyTypeObject *t = (PyTypeObject *)axon_value_cls;
	PyObject *o = t->tp_new(t, empty_tuple, NULL);

	if (!o)
		return NULL;
	if (PyObject_SetAttr(o, s_version, version) || PyObject_SetAttr(o, s_value, value) ||
	    PyObject_SetAttr(o, s_store, store) || PyObject_SetAttr(o, s_key, key)) {
		Py_DECREF(o);
		return NULL;
	}
	return o;
}

/*
 * axon_using(keys, store, pickle) -> Collection {key: Value} read at one
 * snapshot, or None when a key is absent or keys is empty (axon.py then
 * creates the absent keys, its slow path).
 */
static PyObject *store_axon_using(StoreObject *self, PyObject *const *a, Py_ssize_t na)
{
	PyObject *keys, *store, *coll = NULL, *out = NULL;
	PyObject *tmps[AXON_FAST_KEYS] = { NULL };
	const void *kp[AXON_FAST_KEYS];
	size_t kl[AXON_FAST_KEYS];
	struct stm_coll *c = NULL;
	Py_ssize_t n, i;
	int pk, ret;

	if (na != 3 || !PyTuple_Check(a[0]) || !axon_value_cls) {
		PyErr_SetString(PyExc_TypeError, "axon_using(tuple of keys, store, pickle)");
		return NULL;
	}
	keys = a[0];
	store = a[1];
	pk = PyObject_IsTrue(a[2]);
	if (pk < 0)
		return NULL;
	n = PyTuple_GET_SIZE(keys);
	if (n == 0 || n > AXON_FAST_KEYS)	/* the general path (axon.py) takes these */
		Py_RETURN_NONE;
	for (i = 0; i < n; i++) {
		Py_ssize_t l;

		kp[i] = key_view(PyTuple_GET_ITEM(keys, i), &l, &tmps[i]);
		if (!kp[i])
			goto out;
		kl[i] = (size_t)l;
	}
	if (store_enter(self))
		goto out;
	Py_BEGIN_ALLOW_THREADS
	ret = stm_using_n(self->s, kp, kl, (size_t)n, &c);
	Py_END_ALLOW_THREADS
	store_leave(self);
	if (ret) {
		axon_raise(ret, NULL, 0);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (!stm_value_version(stm_coll_get_n(c, kp[i], kl[i]))) {
			out = Py_NewRef(Py_None);
			goto out;
		}
	coll = PyObject_CallNoArgs(axon_coll_cls);
	if (!coll)
		goto out;
	for (i = 0; i < n; i++) {
		struct stm_value *v = stm_coll_get_n(c, kp[i], kl[i]);
		const void *d;
		size_t dl = 0;
		PyObject *ver, *val, *vo = NULL;

		/* decoded from the library's copy: no bytes object for an int */
		d = stm_value_data(v, &dl);
		val = d ? decode_at(NULL, d, (Py_ssize_t)dl, pk, 0) : Py_NewRef(Py_None);
		ver = val ? PyLong_FromUnsignedLongLong(stm_value_version(v)) : NULL;
		if (ver)
			vo = axon_value_new(ver, val, store, PyTuple_GET_ITEM(keys, i));
		Py_XDECREF(val);
		Py_XDECREF(ver);
		if (!vo || PyDict_SetItem(coll, PyTuple_GET_ITEM(keys, i), vo)) {
			Py_XDECREF(vo);
			goto out;
		}
		Py_DECREF(vo);
	}
	if (PyObject_SetAttr(coll, s_store, store))
		goto out;
	out = coll;
	coll = NULL;
out:
	stm_coll_free(c);
	Py_XDECREF(coll);
	for (i = 0; i < n && i < AXON_FAST_KEYS; i++)
		Py_XDECREF(tmps[i]);
	return out;
}

/* The base of axon.Value: no state of its own, the hot methods in C. */
static int axval_init(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "version", "value", "store", "key", NULL };
	PyObject *ver, *val, *st, *key;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOO", kwlist, &ver, &val, &st, &key))
		return -1;
	if (PyObject_SetAttr(self, s_version, ver) || PyObject_SetAttr(self, s_value, val) ||
	    PyObject_SetAttr(self, s_store, st) || PyObject_SetAttr(self, s_key, key))
		return -1;
	return 0;
}

static PyObject *axval_set(PyObject *self, PyObject *value)
{
	if (PyObject_SetAttr(self, s_value, value))
		return NULL;
	Py_RETURN_NONE;
}

/*
 * commit(): self.store.set(self.key, self) — done here when the store's
 * set is axon's own (not overridden) and its raw store is ours.
 */
static PyObject *axval_commit(PyObject *self, PyObject *noargs)
{
	PyObject *store, *key = NULL, *raw = NULL, *pkobj = NULL, *ver = NULL, *val = NULL;
	PyObject *nv = NULL, *out = NULL;
	int pk;

	store = PyObject_GetAttr(self, s_store);
	if (!store)
		return NULL;
	key = PyObject_GetAttr(self, s_key);
	if (!key)
		goto out;
	if (!axon_store_set || _PyType_Lookup(Py_TYPE(store), s_set) != axon_store_set ||
	    !(raw = PyObject_GetAttr(store, s_raw)) || !PyObject_TypeCheck(raw, &StoreType)) {
		PyErr_Clear();
		out = PyObject_CallMethodObjArgs(store, s_set, key, self, NULL);
		goto out;
	}
	pkobj = PyObject_GetAttr(store, s_pk);
	ver = PyObject_GetAttr(self, s_version);
	val = ver ? PyObject_GetAttr(self, s_value) : NULL;
	if (!pkobj || !val)
		goto out;
	pk = PyObject_IsTrue(pkobj);
	if (pk < 0)
		goto out;
	nv = axon_cas((StoreObject *)raw, key, ver, val, pk);
	if (nv && !PyObject_SetAttr(self, s_version, nv))
		out = Py_NewRef(Py_None);
out:
	Py_XDECREF(nv);
	Py_XDECREF(val);
	Py_XDECREF(ver);
	Py_XDECREF(pkobj);
	Py_XDECREF(raw);
	Py_XDECREF(key);
	Py_DECREF(store);
	return out;
}

static PyMethodDef axval_methods[] = {
	{ "set", axval_set, METH_O, "Set the value without storing" },
	{ "commit", axval_commit, METH_NOARGS, "Commit a new version of the value to the store" },
	{ NULL }
};

static PyTypeObject AxonValueType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "stmdev._stmdev.AxonValue",
	.tp_basicsize = sizeof(PyObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "The base of stmdev.axon.Value (its set and commit in C).",
	.tp_methods = axval_methods,
	.tp_init = axval_init,
	.tp_new = PyType_GenericNew,
};

/* _axon_init(Store.set, ConcurrentUpdate, BusyRetry, Value, Collection) */
static PyObject *mod_axon_init(PyObject *m, PyObject *args)
{
	PyObject *set, *cu, *br, *vc, *cc;

	if (!PyArg_ParseTuple(args, "OOOO!O!", &set, &cu, &br, &PyType_Type, &vc,
			      &PyType_Type, &cc))
		return NULL;
	if (!PyType_IsSubtype((PyTypeObject *)vc, &AxonValueType) ||
	    !PyType_IsSubtype((PyTypeObject *)cc, &PyDict_Type)) {
		PyErr_SetString(PyExc_TypeError, "_axon_init: Value must derive AxonValue, "
				"Collection dict");
		return NULL;
	}
	Py_XSETREF(axon_store_set, Py_NewRef(set));
	Py_XSETREF(axon_conflict_exc, Py_NewRef(cu));
	Py_XSETREF(axon_busy_exc, Py_NewRef(br));
	Py_XSETREF(axon_value_cls, Py_NewRef(vc));
	Py_XSETREF(axon_coll_cls, Py_NewRef(cc));
	Py_RETURN_NONE;
}

/* ---- transactions -------------------------------------------------------- */

typedef struct {
	PyObject_HEAD
	struct stm_txn *tx;	/* NULL once the attempt is over */
	StoreObject *store;
} TxObject;

static PyTypeObject TxType;

/* One Python call of a transaction function, or of an or_else branch. */
struct call {
	PyObject *fn;		/* called with the Tx */
	PyObject *result;	/* what fn returned on its last run */
	PyObject *et, *ev, *etb; /* an exception to re-raise (not a retry/conflict) */
	StoreObject *store;
	PyObject *wrap;		/* if set, fn gets wrap(RawTx, wrap_store) (stmdev.Tx) */
	PyObject *wrap_store;
};

/*
 * Hook callables must live until the hooks have run, which is at the end of
 * the outermost stm_atomic() of the thread (a nested block's after-commit
 * hooks run when the outer transaction commits): one list per thread,
 * emptied when the outermost atomic() returns.
 */
static __thread PyObject *tls_hooks;
static __thread int tls_depth;

static void call_clear_exc(struct call *c)
{
	Py_CLEAR(c->et);
	Py_CLEAR(c->ev);
	Py_CLEAR(c->etb);
}

/* Re-raise the exception a call kept, if any; 1 if it did. */
static int call_raise(struct call *c)
{
	if (!c->et)
		return 0;
	PyErr_Restore(c->et, c->ev, c->etb);
	c->et = c->ev = c->etb = NULL;
	return 1;
}

#define PYSTM_EXC	(-ECANCELED)	/* fn raised a Python exception */

/*
 * What an exception out of a transaction function means to stm_atomic:
 * RetryTransaction is STM_RETRY, a conflict (errno STM_ECONFLICT) ends the
 * attempt and reruns it; anything else (0) is the caller's exception.
 */
static int tx_errno_of(PyObject *exc)
{
	if (!exc)
		return 0;
	if (PyErr_GivenExceptionMatches(exc, retry_exc))
		return STM_RETRY;
	if (PyErr_GivenExceptionMatches(exc, conflict_exc))
		return -STM_ECONFLICT;
	return 0;
}

/* Called by stm_atomic/stm_or_else without the GIL. */
static int call_tramp(struct stm_txn *tx, void *arg)
{
	struct call *c = arg;
	PyGILState_STATE g = PyGILState_Ensure();
	TxObject *t;
	PyObject *r;
	int ret = 0;

	t = PyObject_New(TxObject, &TxType);
	if (!t) {
		ret = -ENOMEM;
		PyErr_Clear();
		goto out;
	}
	t->tx = tx;
	t->store = c->store;
	Py_INCREF(c->store);
	if (c->wrap) {
		/* stmdev.Tx(raw, store), without running its Python __init__ */
		PyTypeObject *wt = (PyTypeObject *)c->wrap;
		PyObject *w = wt->tp_new(wt, empty_tuple, NULL);

		if (w && (PyObject_SetAttr(w, s_raw, (PyObject *)t) ||
			  PyObject_SetAttr(w, s_store_, c->wrap_store)))
			Py_CLEAR(w);
		r = w ? PyObject_CallOneArg(c->fn, w) : NULL;
		Py_XDECREF(w);
	} else {
		r = PyObject_CallOneArg(c->fn, (PyObject *)t);
	}
	t->tx = NULL;	/* a Tx kept past its attempt refuses to work */
	Py_DECREF(t);
	call_clear_exc(c);
	if (r) {
		Py_XSETREF(c->result, r);
		goto out;
	}
	{
		int e;

		PyErr_Fetch(&c->et, &c->ev, &c->etb);
		PyErr_NormalizeException(&c->et, &c->ev, &c->etb);
		e = tx_errno_of(c->ev);
		if (e) {
			/* Our own retry/conflict: the library decides what follows. */
			call_clear_exc(c);
			ret = e;
		} else {
			ret = PYSTM_EXC;
		}
	}
out:
	PyGILState_Release(g);
	return ret;
}

/*
 * atomic(fn, flags, max_retries, timeout_ms, family[, wrap, store]) -> fn's
 * result; with wrap (a class: stmdev.Tx), fn(tx) gets a new wrap object
 * whose _raw is the RawTx and _store is store (stmdev's Store.atomic).
 */
static PyObject *store_atomic(StoreObject *self, PyObject *args)
{
	struct stm_txn_opts o;
	struct call c = { 0 };
	const char *family = NULL;
	unsigned int flags, retries, tmo;
	PyObject *fn, *out = NULL;
	int ret;

	memset(&o, 0, sizeof(o));
	if (!PyArg_ParseTuple(args, "OIIIz|O!O", &fn, &flags, &retries, &tmo, &family,
			      &PyType_Type, &c.wrap, &c.wrap_store))
		return NULL;
	if (c.wrap && !c.wrap_store) {
		PyErr_SetString(PyExc_TypeError, "atomic: a wrap class needs its store");
		return NULL;
	}
	if (!PyCallable_Check(fn)) {
		PyErr_SetString(PyExc_TypeError, "the transaction must be callable");
		return NULL;
	}
	if (store_enter(self))
		return NULL;
	o.flags = flags & (STM_TXN_READONLY | STM_TXN_NONBLOCK);
	o.max_retries = retries;
	o.timeout_ms = tmo;
	o.family = family;
	c.fn = fn;
	c.store = self;
	if (tls_depth++ == 0 && !tls_hooks) {
		tls_hooks = PyList_New(0);
		if (!tls_hooks) {
			tls_depth--;
			store_leave(self);
			return NULL;
		}
	}
	Py_BEGIN_ALLOW_THREADS
	ret = stm_atomic(self->s, call_tramp, &c, &o);
	Py_END_ALLOW_THREADS
	store_leave(self);
	if (--tls_depth == 0)
		Py_CLEAR(tls_hooks);	/* every hook has run (or never will) */
	if (call_raise(&c)) {
		;
	} else if (ret == STM_RETRY) {
		/* A nested block that retried: pass the retry to the outer level. */
		PyErr_SetNone(retry_exc);
	} else if (ret < 0) {
		char kb[STM_KEY_MAX + 1];
		int kn = ret == -STM_ECONFLICT || ret == -STM_ERETRIES ?
			stm_last_conflict(self->s, kb, sizeof(kb)) : 0;

		if (kn > STM_KEY_MAX)
			kn = STM_KEY_MAX;
		raise_err(ret, kn > 0 ? kb : NULL, kn > 0 ? (size_t)kn : 0);
	} else {
		out = c.result ? c.result : Py_None;
		Py_INCREF(out);
	}
	Py_XDECREF(c.result);
	return out;
}

static int tx_ok(TxObject *t)
{
	if (!t->tx) {
		PyErr_SetString(PyExc_RuntimeError,
				"this transaction attempt is over (a Tx is only valid inside its function)");
		return -1;
	}
	return 0;
}

/* Raise for a failing stm_ call inside a transaction. */
static PyObject *tx_err(int ret, const void *k, size_t kl)
{
	if (ret == STM_RETRY) {
		PyErr_SetNone(retry_exc);
		return NULL;
	}
	return raise_err(ret, k, kl);
}

/* get(key) -> bytes or None (absent). */
static PyObject *tx_get(TxObject *t, PyObject *arg)
{
	const void *d = NULL;
	size_t dl = 0;
	char *k;
	Py_ssize_t kl;
	int ret;

	if (tx_ok(t) || PyBytes_AsStringAndSize(arg, &k, &kl))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	ret = stm_get_n(t->tx, k, (size_t)kl, &d, &dl);
	Py_END_ALLOW_THREADS
	if (ret == -ENOENT)
		Py_RETURN_NONE;
	if (ret)
		return tx_err(ret, k, (size_t)kl);
	return PyBytes_FromStringAndSize(d, (Py_ssize_t)dl);
}

static PyObject *tx_put(TxObject *t, PyObject *args)
{
	Py_buffer k, d;
	int ret;

	if (tx_ok(t) || !PyArg_ParseTuple(args, "y*y*", &k, &d))
		return NULL;
	ret = stm_put_n(t->tx, k.buf, (size_t)k.len, d.buf, (size_t)d.len);
	if (ret)
		tx_err(ret, k.buf, (size_t)k.len);
	PyBuffer_Release(&k);
	PyBuffer_Release(&d);
	if (ret)
		return NULL;
	Py_RETURN_NONE;
}

/*
 * put_value(key, value, pickle): stmdev.Tx.put in one call — the key
 * checked as key_bytes() does, the value encoded (codec), stm_put_n.
 */
static PyObject *tx_put_value(TxObject *t, PyObject *const *a, Py_ssize_t n)
{
	PyObject *tmp = NULL, *out = NULL;
	struct ebuf b;
	const char *k;
	Py_ssize_t kl;
	int pk, ret;

	if (n != 3) {
		PyErr_SetString(PyExc_TypeError, "put_value(key, value, pickle)");
		return NULL;
	}
	if (tx_ok(t))
		return NULL;
	pk = PyObject_IsTrue(a[2]);
	if (pk < 0)
		return NULL;
	k = key_view(a[0], &kl, &tmp);
	if (!k)
		return NULL;
	eb_init(&b);
	if (encode_to(&b, a[1], pk, 0))
		goto out;
	ret = stm_put_n(t->tx, k, (size_t)kl, b.p, b.len);
	if (ret)
		tx_err(ret, k, (size_t)kl);
	else
		out = Py_NewRef(Py_None);
out:
	eb_free(&b);
	Py_XDECREF(tmp);
	return out;
}

static PyObject *tx_delete(TxObject *t, PyObject *arg)
{
	char *k;
	Py_ssize_t kl;
	int ret;

	if (tx_ok(t) || PyBytes_AsStringAndSize(arg, &k, &kl))
		return NULL;
	ret = stm_del_n(t->tx, k, (size_t)kl);
	if (ret)
		return tx_err(ret, k, (size_t)kl);
	Py_RETURN_NONE;
}

static PyObject *tx_add(TxObject *t, PyObject *args)
{
	Py_buffer k;
	long long delta;
	int ret;

	if (tx_ok(t) || !PyArg_ParseTuple(args, "y*L", &k, &delta))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	ret = stm_add_i64_n(t->tx, k.buf, (size_t)k.len, delta);
	Py_END_ALLOW_THREADS
	if (ret)
		tx_err(ret, k.buf, (size_t)k.len);
	PyBuffer_Release(&k);
	if (ret)
		return NULL;
	Py_RETURN_NONE;
}

/* retry(keys or None, all): always raises RetryTransaction (or an error). */
static PyObject *tx_retry(TxObject *t, PyObject *args)
{
	PyObject *kseq = Py_None, *fast = NULL;
	const void **keys = NULL;
	size_t *lens = NULL;
	int all = 0, ret;
	Py_ssize_t n;

	if (tx_ok(t) || !PyArg_ParseTuple(args, "|Op", &kseq, &all))
		return NULL;
	if (kseq == Py_None)
		return tx_err(stm_retry(t->tx), NULL, 0);
	n = key_array(kseq, &fast, &keys, &lens, 1);
	if (n < 0)
		return NULL;
	if (n == 0) {
		ret = -EINVAL;
	} else {
		Py_BEGIN_ALLOW_THREADS
		ret = stm_retry_keys(t->tx, (const char *const *)keys, (size_t)n,
				     all ? STM_WAIT_ALL : STM_WAIT_ANY);
		Py_END_ALLOW_THREADS
	}
	PyMem_Free(keys);
	PyMem_Free(lens);
	Py_DECREF(fast);
	return tx_err(ret, NULL, 0);
}

/* or_else(f, g) -> the result of the branch that did not retry. */
static PyObject *tx_or_else(TxObject *t, PyObject *args)
{
	struct call a = { 0 }, b = { 0 };
	PyObject *out = NULL;
	struct stm_txn *tx;
	int ret;

	if (tx_ok(t) || !PyArg_ParseTuple(args, "OO", &a.fn, &b.fn))
		return NULL;
	a.store = b.store = t->store;
	tx = t->tx;
	Py_BEGIN_ALLOW_THREADS
	ret = stm_or_else(tx, call_tramp, &a, call_tramp, &b);
	Py_END_ALLOW_THREADS
	if (call_raise(&a) || call_raise(&b)) {
		call_clear_exc(&a);
		call_clear_exc(&b);
	} else if (ret < 0) {
		tx_err(ret, NULL, 0);
	} else {
		/* The branch that ran last and did not retry. */
		out = b.result ? b.result : (a.result ? a.result : Py_None);
		Py_INCREF(out);
	}
	Py_XDECREF(a.result);
	Py_XDECREF(b.result);
	return out;
}

static void hook_tramp(void *arg)
{
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *r = PyObject_CallNoArgs((PyObject *)arg);

	if (!r)
		PyErr_WriteUnraisable((PyObject *)arg);
	Py_XDECREF(r);
	PyGILState_Release(g);
}

static PyObject *hook_add(TxObject *t, PyObject *cb,
			  int (*reg)(struct stm_txn *, void (*)(void *), void *))
{
	int ret;

	if (tx_ok(t))
		return NULL;
	if (!PyCallable_Check(cb)) {
		PyErr_SetString(PyExc_TypeError, "a hook must be callable");
		return NULL;
	}
	if (!tls_hooks) {
		PyErr_SetString(PyExc_RuntimeError, "no transaction of this thread");
		return NULL;
	}
	/* Kept alive until the outermost atomic() of this thread returns. */
	if (PyList_Append(tls_hooks, cb))
		return NULL;
	ret = reg(t->tx, hook_tramp, cb);
	if (ret)
		return raise_err(ret, NULL, 0);
	Py_RETURN_NONE;
}

static PyObject *tx_before_commit(TxObject *t, PyObject *cb)
{
	return hook_add(t, cb, stm_before_commit);
}

static PyObject *tx_after_commit(TxObject *t, PyObject *cb)
{
	return hook_add(t, cb, stm_after_commit);
}

static PyObject *tx_on_abort(TxObject *t, PyObject *cb)
{
	return hook_add(t, cb, stm_on_abort);
}

static PyObject *tx_attempt(TxObject *t, void *c)
{
	if (tx_ok(t))
		return NULL;
	return PyLong_FromUnsignedLong(stm_txn_attempt(t->tx));
}

static void tx_dealloc(TxObject *t)
{
	Py_XDECREF(t->store);
	PyObject_Free(t);
}

static PyMethodDef tx_methods[] = {
	{ "get", (PyCFunction)tx_get, METH_O, "get(key) -> bytes or None" },
	{ "put", (PyCFunction)tx_put, METH_VARARGS, "put(key, data)" },
	{ "put_value", (PyCFunction)(void (*)(void))tx_put_value, METH_FASTCALL,
	  "put_value(key, value, pickle)" },
	{ "delete", (PyCFunction)tx_delete, METH_O, "delete(key)" },
	{ "add", (PyCFunction)tx_add, METH_VARARGS, "add(key, delta)" },
	{ "retry", (PyCFunction)tx_retry, METH_VARARGS, "retry([keys, all])" },
	{ "or_else", (PyCFunction)tx_or_else, METH_VARARGS, "or_else(f, g)" },
	{ "before_commit", (PyCFunction)tx_before_commit, METH_O, NULL },
	{ "after_commit", (PyCFunction)tx_after_commit, METH_O, NULL },
	{ "on_abort", (PyCFunction)tx_on_abort, METH_O, NULL },
	{ NULL }
};

static PyGetSetDef tx_getset[] = {
	{ "attempt", (getter)tx_attempt, NULL, "1 for the first run, 2 for the first rerun", NULL },
	{ NULL }
};

static PyTypeObject TxType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "stmdev._stmdev.RawTx",
	.tp_basicsize = sizeof(TxObject),
	.tp_dealloc = (destructor)tx_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_methods = tx_methods,
	.tp_getset = tx_getset,
};

static PyMethodDef store_methods[] = {
	{ "close", (PyCFunction)store_close, METH_NOARGS, NULL },
	{ "read", (PyCFunction)store_read, METH_O, NULL },
	{ "commit", (PyCFunction)store_commit, METH_O, NULL },
	{ "cas", (PyCFunction)store_cas, METH_VARARGS, NULL },
	{ "fetch_add", (PyCFunction)store_fetch_add, METH_VARARGS, NULL },
	{ "swap", (PyCFunction)store_swap, METH_VARARGS, NULL },
	{ "names", (PyCFunction)store_names, METH_NOARGS, NULL },
	{ "fd", (PyCFunction)store_fd, METH_NOARGS, NULL },
	{ "watch", (PyCFunction)store_watch, METH_O, NULL },
	{ "wait", (PyCFunction)store_wait, METH_VARARGS, NULL },
	{ "last_conflict", (PyCFunction)store_last_conflict, METH_NOARGS, NULL },
	{ "limits", (PyCFunction)store_limits, METH_NOARGS, NULL },
	{ "atomic", (PyCFunction)store_atomic, METH_VARARGS, NULL },
	{ "axon_set", (PyCFunction)(void (*)(void))store_axon_set, METH_FASTCALL, NULL },
	{ "axon_using", (PyCFunction)(void (*)(void))store_axon_using, METH_FASTCALL, NULL },
	{ NULL }
};

static PyGetSetDef store_getset[] = {
	{ "name", (getter)store_name, NULL, NULL, NULL },
	{ "closed", (getter)store_closed, NULL, NULL, NULL },
	{ NULL }
};

static PyTypeObject StoreType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "stmdev._stmdev.RawStore",
	.tp_basicsize = sizeof(StoreObject),
	.tp_dealloc = (destructor)store_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_methods = store_methods,
	.tp_getset = store_getset,
	.tp_init = (initproc)store_init,
	.tp_new = PyType_GenericNew,
};

static PyObject *mod_unlink(PyObject *m, PyObject *arg)
{
	const char *name = PyUnicode_AsUTF8(arg);
	int ret;

	if (!name)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	ret = stm_unlink(name);
	Py_END_ALLOW_THREADS
	if (ret)
		return raise_err(ret, NULL, 0);
	Py_RETURN_NONE;
}

/* ==== store info, statistics, export/import, containers ===================
 *
 * Module functions taking a RawStore or a RawTx as their first argument
 * (kept apart from the methods above; stmdev/__init__.py wraps them).
 */

/* info(store) -> dict (stm_info). */
static PyObject *ext_info(PyObject *m, PyObject *arg)
{
	StoreObject *self = (StoreObject *)arg;
	struct stm_info in;
	int ret;

	if (!PyObject_TypeCheck(arg, &StoreType)) {
		PyErr_SetString(PyExc_TypeError, "info() takes a RawStore");
		return NULL;
	}
	if (store_enter(self))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	ret = stm_info(self->s, &in);
	Py_END_ALLOW_THREADS
	store_leave(self);
	if (ret)
		return raise_err(ret, NULL, 0);
	in.name[sizeof(in.name) - 1] = '\0';
	return Py_BuildValue("{s:s,s:I,s:I,s:I,s:I,s:K,s:K,s:K,s:O,s:K}",
			     "name", in.name, "uid", in.uid, "gid", in.gid,
			     "mode", in.mode, "flags", in.flags,
			     "keys", (unsigned long long)in.keys,
			     "bytes", (unsigned long long)in.bytes,
			     "clock", (unsigned long long)in.clock,
			     "unlinked", in.unlinked ? Py_True : Py_False,
			     "charge", (unsigned long long)in.charge);
}

/* stats(store) -> dict (stm_stats). */
static PyObject *ext_stats(PyObject *m, PyObject *arg)
{
	StoreObject *self = (StoreObject *)arg;
	struct stm_stats st;
	int ret;

	if (!PyObject_TypeCheck(arg, &StoreType)) {
		PyErr_SetString(PyExc_TypeError, "stats() takes a RawStore");
		return NULL;
	}
	if (store_enter(self))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	ret = stm_stats(self->s, &st);
	Py_END_ALLOW_THREADS
	store_leave(self);
	if (ret)
		return raise_err(ret, NULL, 0);
	return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K}",
			     "commits", (unsigned long long)st.commits,
			     "conflicts", (unsigned long long)st.conflicts,
			     "busy", (unsigned long long)st.busy,
			     "reads", (unsigned long long)st.reads,
			     "keys", (unsigned long long)st.keys,
			     "bytes", (unsigned long long)st.bytes,
			     "waits", (unsigned long long)st.waits,
			     "wakeups", (unsigned long long)st.wakeups,
			     "charge", (unsigned long long)st.charge);
}

/*
 * Callbacks that build a Python list run without the GIL's owner being
 * sure (the library calls them from inside a call made with the GIL
 * released): each takes the GIL, and the first failure stops the walk.
 */
struct ext_list {
	PyObject *list;
	int failed;
};

static int ext_append(struct ext_list *l, PyObject *item)
{
	if (!item || PyList_Append(l->list, item)) {
		Py_XDECREF(item);
		l->failed = 1;
		return 1;
	}
	Py_DECREF(item);
	return 0;
}

static int ext_family_cb(const struct stm_family_stats *f, void *arg)
{
	PyGILState_STATE g = PyGILState_Ensure();
	int ret = ext_append(arg, Py_BuildValue(
		"{s:s,s:I,s:K,s:K,s:K,s:K,s:K,s:K}", "name", f->name, "id", f->id,
		"attempts", (unsigned long long)f->attempts,
		"commits", (unsigned long long)f->commits,
		"conflicts", (unsigned long long)f->conflicts,
		"busy", (unsigned long long)f->busy,
		"waits", (unsigned long long)f->waits,
		"retries", (unsigned long long)f->retries));

	PyGILState_Release(g);
	return ret;
}

/* families(store) -> [dict] (stm_families). */
static PyObject *ext_families(PyObject *m, PyObject *arg)
{
	StoreObject *self = (StoreObject *)arg;
	struct ext_list l = { 0 };
	int ret;

	if (!PyObject_TypeCheck(arg, &StoreType)) {
		PyErr_SetString(PyExc_TypeError, "families() takes a RawStore");
		return NULL;
	}
	l.list = PyList_New(0);
	if (!l.list)
		return NULL;
	if (store_enter(self))
		goto out_free;
	Py_BEGIN_ALLOW_THREADS
	ret = stm_families(self->s, ext_family_cb, &l);
	Py_END_ALLOW_THREADS
	store_leave(self);
	if (l.failed)
		goto out_free;
	if (ret < 0) {
		raise_err(ret, NULL, 0);
		goto out_free;
	}
	return l.list;
out_free:
	Py_DECREF(l.list);
	return NULL;
}

static int ext_store_cb(const struct stm_store_ent *e, void *arg)
{
	PyGILState_STATE g = PyGILState_Ensure();
	int ret = ext_append(arg, Py_BuildValue(
		"{s:s,s:I,s:I,s:I,s:K,s:K}", "name", e->name, "uid", e->uid,
		"gid", e->gid, "mode", e->mode, "keys", (unsigned long long)e->keys,
		"bytes", (unsigned long long)e->bytes));

	PyGILState_Release(g);
	return ret;
}

/* stores() -> [dict] (stm_stores: every store the caller may read). */
static PyObject *ext_stores(PyObject *m, PyObject *noargs)
{
	struct ext_list l = { 0 };
	int ret;

	l.list = PyList_New(0);
	if (!l.list)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	ret = stm_stores(ext_store_cb, &l);
	Py_END_ALLOW_THREADS
	if (l.failed)
		goto out_free;
	if (ret < 0) {
		raise_err(ret, NULL, 0);
		goto out_free;
	}
	return l.list;
out_free:
	Py_DECREF(l.list);
	return NULL;
}

static int ext_export_cb(const struct stm_record *r, void *arg)
{
	PyGILState_STATE g = PyGILState_Ensure();
	int ret = ext_append(arg, Py_BuildValue(
		"(y#y#K)", (const char *)r->key, (Py_ssize_t)r->key_len,
		r->value ? (const char *)r->value : "", (Py_ssize_t)r->value_len,
		(unsigned long long)r->version));

	PyGILState_Release(g);
	return ret;
}

/* export(store) -> (clock, [(key, data, version)]) at one instant. */
static PyObject *ext_export(PyObject *m, PyObject *arg)
{
	StoreObject *self = (StoreObject *)arg;
	struct ext_list l = { 0 };
	uint64_t clock = 0;
	int ret;

	if (!PyObject_TypeCheck(arg, &StoreType)) {
		PyErr_SetString(PyExc_TypeError, "export() takes a RawStore");
		return NULL;
	}
	l.list = PyList_New(0);
	if (!l.list)
		return NULL;
	if (store_enter(self))
		goto out_free;
	Py_BEGIN_ALLOW_THREADS
	ret = stm_export(self->s, ext_export_cb, &l, &clock);
	Py_END_ALLOW_THREADS
	store_leave(self);
	if (l.failed)
		goto out_free;
	if (ret < 0) {
		raise_err(ret, NULL, 0);
		goto out_free;
	}
	return Py_BuildValue("(KN)", (unsigned long long)clock, l.list);
out_free:
	Py_DECREF(l.list);
	return NULL;
}

/*
 * import_(store, [(key, data, version)]) -> clock; all or nothing.  The
 * records point into the bytes objects of @fast, which live (and, bytes
 * being immutable, stay unchanged) until the call returns.
 */
static PyObject *ext_import(PyObject *m, PyObject *args)
{
	StoreObject *self;
	struct stm_record *recs = NULL;
	PyObject *seq, *fast, *out = NULL;
	uint64_t clock = 0;
	Py_ssize_t n, i;
	int ret;

	if (!PyArg_ParseTuple(args, "O!O", &StoreType, &self, &seq))
		return NULL;
	fast = PySequence_Fast(seq, "import_() takes a sequence of records");
	if (!fast)
		return NULL;
	n = PySequence_Fast_GET_SIZE(fast);
	if (n > 16 * 1024 * 1024) {
		raise_err(-E2BIG, NULL, 0);
		goto out;
	}
	recs = PyMem_Calloc(n ? (size_t)n : 1, sizeof(*recs));
	if (!recs) {
		PyErr_NoMemory();
		goto out;
	}
	for (i = 0; i < n; i++) {
		PyObject *r = PySequence_Fast_GET_ITEM(fast, i);
		PyObject *k, *d;
		unsigned long long v;

		if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 3 ||
		    !PyBytes_Check(k = PyTuple_GET_ITEM(r, 0)) ||
		    !PyBytes_Check(d = PyTuple_GET_ITEM(r, 1))) {
			raise_err(-EINVAL, NULL, 0);
			goto out;
		}
		v = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(r, 2));
		if (PyErr_Occurred()) {
			PyErr_Clear();
			raise_err(-EINVAL, NULL, 0);
			goto out;
		}
		recs[i].key = PyBytes_AS_STRING(k);
		recs[i].key_len = (size_t)PyBytes_GET_SIZE(k);
		recs[i].value = PyBytes_AS_STRING(d);
		recs[i].value_len = (size_t)PyBytes_GET_SIZE(d);
		recs[i].version = v;
	}
	if (store_enter(self))
		goto out;
	Py_BEGIN_ALLOW_THREADS
	ret = stm_import(self->s, recs, (size_t)n, &clock);
	Py_END_ALLOW_THREADS
	store_leave(self);
	if (ret)
		raise_err(ret, NULL, 0);
	else
		out = PyLong_FromUnsignedLongLong(clock);
out:
	PyMem_Free(recs);
	Py_DECREF(fast);
	return out;
}

/* ---- containers (lib/containers.c), inside a running transaction ---- */

/* The RawTx argument, checked to be live. */
static int ext_tx(PyObject *o, TxObject **t)
{
	if (!PyObject_TypeCheck(o, &TxType)) {
		PyErr_SetString(PyExc_TypeError, "a RawTx is needed");
		return -1;
	}
	*t = (TxObject *)o;
	return tx_ok(*t);
}

/* A container name: a str of 1..STM_KEY_MAX UTF-8 bytes without NUL. */
static const char *ext_name(PyObject *o)
{
	Py_ssize_t len;
	const char *s;

	if (!PyUnicode_Check(o)) {
		raise_err(-EINVAL, NULL, 0);
		return NULL;
	}
	s = PyUnicode_AsUTF8AndSize(o, &len);
	if (!s)
		return NULL;
	if (len < 1 || len > STM_KEY_MAX || strlen(s) != (size_t)len) {
		raise_err(-EINVAL, NULL, 0);
		return NULL;
	}
	return s;
}

/* What a container call's result means to Python: -EAGAIN (a try_ that
 * could not go on) is None; STM_RETRY raises RetryTransaction. */
#define EXT_AGAIN	1

static int ext_check(int ret, const char *name)
{
	if (ret == -EAGAIN)
		return EXT_AGAIN;
	if (ret < 0 || ret == STM_RETRY) {
		tx_err(ret, name, name ? strlen(name) : 0);
		return -1;
	}
	return 0;
}

/*
 * The operations that hand data out: queue take/peek (try or not), mvar
 * take/read, map get, array get.  The buffer is the store's largest value.
 */
enum ext_get_op {
	EXT_Q_TAKE, EXT_Q_TRY_TAKE, EXT_Q_PEEK, EXT_Q_TRY_PEEK,
	EXT_MV_TAKE, EXT_MV_TRY_TAKE, EXT_MV_READ, EXT_MAP_GET, EXT_ARR_GET,
};

/* cget(tx, op, name, key=b"", index=0) -> bytes, or None (try_: nothing;
 * map get: absent). */
static PyObject *ext_cget(PyObject *m, PyObject *args)
{
	PyObject *to, *no, *out = NULL;
	unsigned long long idx = 0;
	Py_buffer k = { 0 };
	struct stm_limits lim;
	const char *name;
	size_t cap, len = 0;
	TxObject *t;
	char *buf;
	int op, ret;

	if (!PyArg_ParseTuple(args, "OiO|y*K", &to, &op, &no, &k, &idx))
		return NULL;
	if (ext_tx(to, &t) || !(name = ext_name(no)))
		goto out_rel;
	if (stm_limits(t->store->s, &lim) || lim.max_value_size == 0 ||
	    lim.max_value_size > (1u << 30)) {
		raise_err(-EINVAL, NULL, 0);
		goto out_rel;
	}
	cap = lim.max_value_size;
	buf = PyMem_Malloc(cap);
	if (!buf) {
		PyErr_NoMemory();
		goto out_rel;
	}
	Py_BEGIN_ALLOW_THREADS
	switch (op) {
	case EXT_Q_TAKE:
		ret = stm_queue_take(t->tx, name, buf, cap, &len);
		break;
	case EXT_Q_TRY_TAKE:
		ret = stm_queue_try_take(t->tx, name, buf, cap, &len);
		break;
	case EXT_Q_PEEK:
		ret = stm_queue_peek(t->tx, name, buf, cap, &len);
		break;
	case EXT_Q_TRY_PEEK:
		ret = stm_queue_try_peek(t->tx, name, buf, cap, &len);
		break;
	case EXT_MV_TAKE:
		ret = stm_mvar_take(t->tx, name, buf, cap, &len);
		break;
	case EXT_MV_TRY_TAKE:
		ret = stm_mvar_try_take(t->tx, name, buf, cap, &len);
		break;
	case EXT_MV_READ:
		ret = stm_mvar_read(t->tx, name, buf, cap, &len);
		break;
	case EXT_MAP_GET:
		ret = stm_map_get(t->tx, name, k.buf, (size_t)k.len, buf, cap, &len);
		if (ret == -ENOENT)
			ret = -EAGAIN;
		break;
	case EXT_ARR_GET:
		ret = stm_array_get(t->tx, name, idx, buf, cap, &len);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	Py_END_ALLOW_THREADS
	ret = ext_check(ret, name);
	if (ret == EXT_AGAIN) {
		out = Py_None;
		Py_INCREF(out);
	} else if (ret == 0) {
		out = PyBytes_FromStringAndSize(buf, (Py_ssize_t)(len < cap ? len : cap));
	}
	PyMem_Free(buf);
out_rel:
	if (k.obj)
		PyBuffer_Release(&k);
	return out;
}

enum ext_put_op {
	EXT_Q_PUT, EXT_Q_TRY_PUT, EXT_MV_PUT, EXT_MV_TRY_PUT, EXT_MAP_PUT,
	EXT_ARR_SET, EXT_MAP_DEL, EXT_MAP_CONTAINS, EXT_SET_ADD, EXT_SET_REMOVE,
};

/* cput(tx, op, name, key, data, index) -> int (the call's non-negative
 * result), or None (try_: could not; del/remove: absent). */
static PyObject *ext_cput(PyObject *m, PyObject *args)
{
	Py_buffer k = { 0 }, d = { 0 };
	unsigned long long idx;
	PyObject *to, *no, *out = NULL;
	const char *name;
	TxObject *t;
	int op, ret;

	if (!PyArg_ParseTuple(args, "OiOy*y*K", &to, &op, &no, &k, &d, &idx))
		return NULL;
	if (ext_tx(to, &t) || !(name = ext_name(no)))
		goto out_rel;
	Py_BEGIN_ALLOW_THREADS
	switch (op) {
	case EXT_Q_PUT:
		ret = stm_queue_put(t->tx, name, d.buf, (size_t)d.len);
		break;
	case EXT_Q_TRY_PUT:
		ret = stm_queue_try_put(t->tx, name, d.buf, (size_t)d.len);
		break;
	case EXT_MV_PUT:
		ret = stm_mvar_put(t->tx, name, d.buf, (size_t)d.len);
		break;
	case EXT_MV_TRY_PUT:
		ret = stm_mvar_try_put(t->tx, name, d.buf, (size_t)d.len);
		break;
	case EXT_MAP_PUT:
		ret = stm_map_put(t->tx, name, k.buf, (size_t)k.len, d.buf, (size_t)d.len);
		break;
	case EXT_ARR_SET:
		ret = stm_array_set(t->tx, name, idx, d.buf, (size_t)d.len);
		break;
	case EXT_MAP_DEL:
		ret = stm_map_del(t->tx, name, k.buf, (size_t)k.len);
		if (ret == -ENOENT)
			ret = -EAGAIN;
		break;
	case EXT_MAP_CONTAINS:
		ret = stm_map_contains(t->tx, name, k.buf, (size_t)k.len);
		break;
	case EXT_SET_ADD:
		ret = stm_set_add(t->tx, name, k.buf, (size_t)k.len);
		break;
	case EXT_SET_REMOVE:
		ret = stm_set_remove(t->tx, name, k.buf, (size_t)k.len);
		if (ret == -ENOENT)
			ret = -EAGAIN;
		break;
	default:
		ret = -EINVAL;
		break;
	}
	Py_END_ALLOW_THREADS
	switch (ext_check(ret, name)) {
	case EXT_AGAIN:
		out = Py_None;
		Py_INCREF(out);
		break;
	case 0:
		out = PyLong_FromLong(ret);
		break;
	}
out_rel:
	PyBuffer_Release(&k);
	PyBuffer_Release(&d);
	return out;
}

enum ext_num_op {
	EXT_Q_INIT, EXT_Q_SIZE, EXT_SEM_ACQ, EXT_SEM_TRY_ACQ, EXT_SEM_REL,
	EXT_MAP_SIZE, EXT_ARR_INIT, EXT_ARR_SIZE,
};

/* cnum(tx, op, name, n) -> int (a size; else 0), or None (try_: could not). */
static PyObject *ext_cnum(PyObject *m, PyObject *args)
{
	unsigned long long n;
	uint64_t r = 0;
	PyObject *to, *no;
	const char *name;
	TxObject *t;
	int op, ret;

	if (!PyArg_ParseTuple(args, "OiOK", &to, &op, &no, &n))
		return NULL;
	if (ext_tx(to, &t) || !(name = ext_name(no)))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	switch (op) {
	case EXT_Q_INIT:
		ret = stm_queue_init(t->tx, name, n);
		break;
	case EXT_Q_SIZE:
		ret = stm_queue_size(t->tx, name, &r);
		break;
	case EXT_SEM_ACQ:
		ret = stm_sem_acquire(t->tx, name, n);
		break;
	case EXT_SEM_TRY_ACQ:
		ret = stm_sem_try_acquire(t->tx, name, n);
		break;
	case EXT_SEM_REL:
		ret = stm_sem_release(t->tx, name, n);
		break;
	case EXT_MAP_SIZE:
		ret = stm_map_size(t->tx, name, &r);
		break;
	case EXT_ARR_INIT:
		ret = stm_array_init(t->tx, name, n);
		break;
	case EXT_ARR_SIZE:
		ret = stm_array_size(t->tx, name, &r);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	Py_END_ALLOW_THREADS
	switch (ext_check(ret, name)) {
	case EXT_AGAIN:
		Py_RETURN_NONE;
	case 0:
		return PyLong_FromUnsignedLongLong(r);
	}
	return NULL;
}

static int ext_iter_cb(struct stm_txn *tx, const void *key, size_t klen,
		       const void *val, size_t vlen, void *arg)
{
	PyGILState_STATE g = PyGILState_Ensure();
	int ret = ext_append(arg, Py_BuildValue("(y#y#)", (const char *)key,
						(Py_ssize_t)klen,
						val ? (const char *)val : "",
						(Py_ssize_t)vlen));

	PyGILState_Release(g);
	return ret;
}

/* citems(tx, name) -> [(key, data)] of a map (or set) at the snapshot. */
static PyObject *ext_citems(PyObject *m, PyObject *args)
{
	struct ext_list l = { 0 };
	PyObject *to, *no;
	const char *name;
	TxObject *t;
	int ret;

	if (!PyArg_ParseTuple(args, "OO", &to, &no))
		return NULL;
	if (ext_tx(to, &t) || !(name = ext_name(no)))
		return NULL;
	l.list = PyList_New(0);
	if (!l.list)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	ret = stm_map_iterate(t->tx, name, ext_iter_cb, &l);
	Py_END_ALLOW_THREADS
	if (l.failed)
		goto out_free;
	if (ext_check(ret, name))
		goto out_free;
	return l.list;
out_free:
	Py_DECREF(l.list);
	return NULL;
}

static PyMethodDef ext_methods[] = {
	{ "info", ext_info, METH_O, "info(RawStore) -> dict (stm_info)" },
	{ "stats", ext_stats, METH_O, "stats(RawStore) -> dict (stm_stats)" },
	{ "families", ext_families, METH_O, "families(RawStore) -> [dict]" },
	{ "stores", ext_stores, METH_NOARGS, "stores() -> [dict] (stm_stores)" },
	{ "export", ext_export, METH_O, "export(RawStore) -> (clock, records)" },
	{ "import_", ext_import, METH_VARARGS, "import_(RawStore, records) -> clock" },
	{ "cget", ext_cget, METH_VARARGS, NULL },
	{ "cput", ext_cput, METH_VARARGS, NULL },
	{ "cnum", ext_cnum, METH_VARARGS, NULL },
	{ "citems", ext_citems, METH_VARARGS, NULL },
	{ NULL }
};

/* The functions and the container operation numbers, into the module. */
static int ext_init(PyObject *m)
{
	static const struct { const char *name; int v; } ops[] = {
		{ "Q_TAKE", EXT_Q_TAKE }, { "Q_TRY_TAKE", EXT_Q_TRY_TAKE },
		{ "Q_PEEK", EXT_Q_PEEK }, { "Q_TRY_PEEK", EXT_Q_TRY_PEEK },
		{ "MV_TAKE", EXT_MV_TAKE }, { "MV_TRY_TAKE", EXT_MV_TRY_TAKE },
		{ "MV_READ", EXT_MV_READ }, { "MAP_GET", EXT_MAP_GET },
		{ "ARR_GET", EXT_ARR_GET },
		{ "Q_PUT", EXT_Q_PUT }, { "Q_TRY_PUT", EXT_Q_TRY_PUT },
		{ "MV_PUT", EXT_MV_PUT }, { "MV_TRY_PUT", EXT_MV_TRY_PUT },
		{ "MAP_PUT", EXT_MAP_PUT }, { "ARR_SET", EXT_ARR_SET },
		{ "MAP_DEL", EXT_MAP_DEL }, { "MAP_CONTAINS", EXT_MAP_CONTAINS },
		{ "SET_ADD", EXT_SET_ADD }, { "SET_REMOVE", EXT_SET_REMOVE },
		{ "Q_INIT", EXT_Q_INIT }, { "Q_SIZE", EXT_Q_SIZE },
		{ "SEM_ACQ", EXT_SEM_ACQ }, { "SEM_TRY_ACQ", EXT_SEM_TRY_ACQ },
		{ "SEM_REL", EXT_SEM_REL }, { "MAP_SIZE", EXT_MAP_SIZE },
		{ "ARR_INIT", EXT_ARR_INIT }, { "ARR_SIZE", EXT_ARR_SIZE },
	};
	size_t i;

	if (PyModule_AddFunctions(m, ext_methods))
		return -1;
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (PyModule_AddIntConstant(m, ops[i].name, ops[i].v))
			return -1;
	return 0;
}

/* ==== end of info, statistics, export/import, containers ================== */

static PyMethodDef mod_methods[] = {
	{ "unlink", mod_unlink, METH_O, "unlink(name): remove a store's name" },
	{ "encode", (PyCFunction)(void (*)(void))mod_encode, METH_VARARGS | METH_KEYWORDS,
	  "encode(obj, allow_pickle=False) -> bytes (stmdev.codec.encode)" },
	{ "decode", (PyCFunction)(void (*)(void))mod_decode, METH_VARARGS | METH_KEYWORDS,
	  "decode(data, allow_pickle=False) -> value (stmdev.codec.decode)" },
	{ "_axon_init", mod_axon_init, METH_VARARGS, NULL },
	{ NULL }
};

static struct PyModuleDef moddef = {
	PyModuleDef_HEAD_INIT, "stmdev._stmdev", "libstmdev binding (internal)", -1, mod_methods,
};

PyMODINIT_FUNC PyInit__stmdev(void)
{
	PyObject *m, *errs;

	if (PyType_Ready(&StoreType) || PyType_Ready(&TxType) || PyType_Ready(&AxonValueType))
		return NULL;
	errs = PyImport_ImportModule("stmdev._errors");
	if (!errs)
		return NULL;
	make_error = PyObject_GetAttrString(errs, "make_error");
	retry_exc = PyObject_GetAttrString(errs, "RetryTransaction");
	conflict_exc = PyObject_GetAttrString(errs, "ConflictError");
	invalid_exc = PyObject_GetAttrString(errs, "InvalidArgument");
	unencodable_exc = PyObject_GetAttrString(errs, "UnencodableValue");
	Py_DECREF(errs);
	if (!make_error || !retry_exc || !conflict_exc || !invalid_exc || !unencodable_exc)
		return NULL;
	empty_tuple = PyTuple_New(0);
	s_version = PyUnicode_InternFromString("version");
	s_value = PyUnicode_InternFromString("value");
	s_store = PyUnicode_InternFromString("store");
	s_key = PyUnicode_InternFromString("key");
	s_raw = PyUnicode_InternFromString("_raw");
	s_pk = PyUnicode_InternFromString("_pk");
	s_set = PyUnicode_InternFromString("set");
	s_store_ = PyUnicode_InternFromString("_store");
	if (!empty_tuple || !s_version || !s_value || !s_store || !s_key || !s_raw || !s_pk ||
	    !s_set || !s_store_)
		return NULL;
	m = PyModule_Create(&moddef);
	if (!m)
		return NULL;
	Py_INCREF(&StoreType);
	PyModule_AddObject(m, "RawStore", (PyObject *)&StoreType);
	Py_INCREF(&AxonValueType);
	PyModule_AddObject(m, "AxonValue", (PyObject *)&AxonValueType);
	PyModule_AddIntConstant(m, "CREAT", STM_CREAT);
	PyModule_AddIntConstant(m, "EXCL", STM_EXCL);
	PyModule_AddIntConstant(m, "RDONLY", STM_RDONLY);
	PyModule_AddIntConstant(m, "NONBLOCK", STM_NONBLOCK);
	PyModule_AddIntConstant(m, "TXN_READONLY", STM_TXN_READONLY);
	PyModule_AddIntConstant(m, "TXN_NONBLOCK", STM_TXN_NONBLOCK);
	PyModule_AddIntConstant(m, "KEY_MAX", STM_KEY_MAX);
	PyModule_AddIntConstant(m, "NAME_MAX", STM_NAME_MAX);
	if (ext_init(m))
		return NULL;	/* the block above mod_methods */
	return m;
}
