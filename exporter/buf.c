/* SPDX-License-Identifier: MIT */
/*
 * Growable byte buffer with a hard maximum size.
 */
#include "buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cie_buf_init(struct cie_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max ? max : SIZE_MAX - 1;
}

void cie_buf_cleanup(struct cie_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->overflow = false;
}

void cie_buf_reset(struct cie_buf *b)
{
	b->len = 0;
	b->overflow = false;
	if (b->data)
		b->data[0] = '\0';
}

bool cie_buf_reserve(struct cie_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > b->max || b->len > b->max - extra) {
		b->overflow = true;
		return false;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return true;

	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return false;
	b->data = p;
	b->cap = cap;
	return true;
}

bool cie_buf_append(struct cie_buf *b, const void *data, size_t n)
{
	if (!cie_buf_reserve(b, n))
		return false;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

bool cie_buf_puts(struct cie_buf *b, const char *s)
{
	return cie_buf_append(b, s, strlen(s));
}

bool cie_buf_putc(struct cie_buf *b, char c)
{
	return cie_buf_append(b, &c, 1);
}

bool cie_buf_vprintf(struct cie_buf *b, const char *fmt, va_list ap)
{
	va_list copy;
	int n;

	/* Try a short text first, without asking for more than the maximum leaves. */
	if (!cie_buf_reserve(b, b->max - b->len < 64 ? b->max - b->len : 64))
		return false;
	va_copy(copy, ap);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, copy);
	va_end(copy);
	/* A truncated attempt overwrote the terminator at len, so restore it. */
	if (n < 0 || (size_t)n >= b->cap - b->len)
		b->data[b->len] = '\0';
	if (n < 0)
		return false;
	if ((size_t)n >= b->cap - b->len) {
		if (!cie_buf_reserve(b, (size_t)n))
			return false;
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		if (n < 0)
			return false;
	}
	if ((size_t)n > b->max - b->len) {
		b->data[b->len] = '\0';
		b->overflow = true;
		return false;
	}
	b->len += (size_t)n;
	return true;
}

bool cie_buf_printf(struct cie_buf *b, const char *fmt, ...)
{
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = cie_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return ok;
}

char *cie_buf_detach(struct cie_buf *b, size_t *len)
{
	char *p = b->data;

	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
