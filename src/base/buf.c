/* Bounded byte buffers and name/value lists. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base.h"

static char empty_text[1];

void buf_init(struct buf *b, size_t max_bytes)
{
	b->data = empty_text;
	b->len = 0;
	b->cap = 0;
	b->max_bytes = max_bytes ? max_bytes : BUF_DEFAULT_MAX;
}

void buf_fini(struct buf *b)
{
	if (b->cap)
		free(b->data);
	b->data = empty_text;
	b->len = 0;
	b->cap = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->cap)
		b->data[0] = '\0';
}

int buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > b->max_bytes - b->len)
		return -E2BIG;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max_bytes + 1)
		cap = b->max_bytes + 1;
	p = b->cap ? realloc(b->data, cap) : malloc(cap);
	if (!p)
		return -ENOMEM;
	if (!b->cap)
		p[0] = '\0';
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
	int rc = buf_reserve(b, len);

	if (rc)
		return rc;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	rc = buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

char *buf_steal(struct buf *b, size_t *len_out)
{
	char *p;

	if (len_out)
		*len_out = b->len;
	if (!b->cap) {
		p = malloc(1);
		if (p)
			p[0] = '\0';
		return p;
	}
	p = b->data;
	b->data = empty_text;
	b->len = 0;
	b->cap = 0;
	return p;
}

void kvlist_init(struct kvlist *l)
{
	l->items = NULL;
	l->n = 0;
	l->cap = 0;
}

void kvlist_clear(struct kvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].name);
		free(l->items[i].value);
	}
	l->n = 0;
}

void kvlist_fini(struct kvlist *l)
{
	kvlist_clear(l);
	free(l->items);
	kvlist_init(l);
}

int kvlist_addn(struct kvlist *l, const char *name, size_t name_len,
		const char *value, size_t value_len)
{
	struct kv kv;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct kv *items = realloc(l->items, cap * sizeof(*items));

		if (!items)
			return -ENOMEM;
		l->items = items;
		l->cap = cap;
	}
	kv.name = str_ndup(name, name_len);
	kv.value = str_ndup(value ? value : "", value ? value_len : 0);
	if (!kv.name || !kv.value) {
		free(kv.name);
		free(kv.value);
		return -ENOMEM;
	}
	l->items[l->n++] = kv;
	return 0;
}

int kvlist_add(struct kvlist *l, const char *name, const char *value)
{
	return kvlist_addn(l, name, strlen(name), value,
			   value ? strlen(value) : 0);
}

const char *kvlist_get(const struct kvlist *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->items[i].name, name) == 0)
			return l->items[i].value;
	return NULL;
}

void kvlist_remove(struct kvlist *l, const char *name)
{
	size_t out = 0;

	for (size_t i = 0; i < l->n; i++) {
		if (strcasecmp(l->items[i].name, name) == 0) {
			free(l->items[i].name);
			free(l->items[i].value);
			continue;
		}
		l->items[out++] = l->items[i];
	}
	l->n = out;
}

int kvlist_set(struct kvlist *l, const char *name, const char *value)
{
	kvlist_remove(l, name);
	return kvlist_add(l, name, value);
}

int kvlist_copy(struct kvlist *dst, const struct kvlist *src)
{
	for (size_t i = 0; i < src->n; i++) {
		int rc = kvlist_add(dst, src->items[i].name,
				    src->items[i].value);
		if (rc)
			return rc;
	}
	return 0;
}
