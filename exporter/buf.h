/* SPDX-License-Identifier: MIT */
/*
 * Growable byte buffer with a hard maximum size. Used for response bodies,
 * rendered exposition text and log lines. The data is always NUL-terminated
 * so that it can be handed to parsers that expect C strings.
 */
#ifndef CIE_BUF_H
#define CIE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct cie_buf {
	char *data;    /* owned; NUL-terminated when not NULL */
	size_t len;    /* bytes used, without the terminating NUL */
	size_t cap;    /* bytes allocated */
	size_t max;    /* hard maximum of len; 0 means SIZE_MAX */
	bool overflow; /* set when an append was rejected for exceeding max */
};

/* Initialise an empty buffer whose length may not exceed max bytes. */
void cie_buf_init(struct cie_buf *b, size_t max);

/* Free the data; the buffer may be initialised again afterwards. */
void cie_buf_cleanup(struct cie_buf *b);

/* Empty the buffer, keeping its allocation for reuse. */
void cie_buf_reset(struct cie_buf *b);

/*
 * Make room for extra more bytes. Returns false (and sets overflow when the
 * maximum is the reason) if the room cannot be had; the content is unchanged.
 */
bool cie_buf_reserve(struct cie_buf *b, size_t extra);

/* Append bytes, a C string, or one character; false when out of room. */
bool cie_buf_append(struct cie_buf *b, const void *data, size_t n);
bool cie_buf_puts(struct cie_buf *b, const char *s);
bool cie_buf_putc(struct cie_buf *b, char c);

/* Append printf-style formatted text; false when out of room. */
bool cie_buf_printf(struct cie_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool cie_buf_vprintf(struct cie_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Hand the data over to the caller (who frees it) and empty the buffer. */
char *cie_buf_detach(struct cie_buf *b, size_t *len);

#endif
