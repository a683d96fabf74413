/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of exporter/buf.c: appends, formatted appends, the hard
 * maximum, the NUL terminator, reset and detach.
 */
#include <stdlib.h>

#include "buf.h"
#include "check.h"

static void test_buf_append_and_terminate(void)
{
	struct cie_buf b;

	cie_buf_init(&b, 0);
	CHECK(b.data == NULL, "new buffer: expected data NULL, got %p", (void *)b.data);
	CHECK_INT_EQ(b.len, 0);
	CHECK(cie_buf_append(&b, "ab", 2), "append: expected true, got false");
	CHECK(cie_buf_puts(&b, "cd"), "puts: expected true, got false");
	CHECK(cie_buf_putc(&b, 'e'), "putc: expected true, got false");
	CHECK(cie_buf_append(&b, "zzz", 0), "append of 0 bytes: expected true, got false");
	CHECK_INT_EQ(b.len, 5);
	CHECK_STR_EQ(b.data, "abcde");
	CHECK(!b.overflow, "overflow: expected false, got true");
	cie_buf_cleanup(&b);
	CHECK(b.data == NULL, "after cleanup: expected data NULL, got %p", (void *)b.data);
	CHECK_INT_EQ(b.len, 0);
	cie_buf_cleanup(NULL);
}

static void test_buf_binary_bytes(void)
{
	static const char bytes[] = { 'a', '\0', 'b' };
	struct cie_buf b;

	cie_buf_init(&b, 0);
	cie_buf_append(&b, bytes, sizeof(bytes));
	CHECK_INT_EQ(b.len, 3);
	if (!CHECK(b.data != NULL, "data: expected 3 bytes, got NULL"))
		return;
	CHECK(memcmp(b.data, bytes, 3) == 0, "data: expected a, NUL, b, got other bytes");
	CHECK(b.data[3] == '\0', "terminator: expected NUL, got %d", b.data[3]);
	cie_buf_cleanup(&b);
}

static void test_buf_grows_large(void)
{
	struct cie_buf b;

	cie_buf_init(&b, 0);
	for (int i = 0; i < 10000; i++)
		cie_buf_puts(&b, "0123456789");
	CHECK_INT_EQ(b.len, 100000);
	CHECK(b.cap > b.len, "cap: expected more than len for the terminator, got %zu",
	      b.cap);
	CHECK(b.data[b.len] == '\0', "terminator: expected NUL, got another byte");
	CHECK_INT_EQ(strlen(b.data), 100000);
	cie_buf_cleanup(&b);
}

static void test_buf_printf_formats(void)
{
	struct cie_buf b;
	char big[1000];

	cie_buf_init(&b, 0);
	CHECK(cie_buf_printf(&b, "%s=%d", "n", 42), "printf: expected true, got false");
	CHECK_STR_EQ(b.data, "n=42");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(cie_buf_printf(&b, "[%s]", big), "long printf: expected true, got false");
	CHECK_INT_EQ(b.len, 4 + 2 + 999);
	CHECK_INT_EQ(strlen(b.data), b.len);
	CHECK(b.data[4] == '[', "long printf: expected '[' after \"n=42\", got '%c'",
	      b.data[4]);
	CHECK(b.data[b.len - 1] == ']', "long printf: expected a final ']', got '%c'",
	      b.data[b.len - 1]);
	cie_buf_cleanup(&b);
}

static void test_buf_max_enforced(void)
{
	struct cie_buf b;

	cie_buf_init(&b, 8);
	CHECK(cie_buf_append(&b, "12345678", 8), "append up to max: expected true, got false");
	CHECK(!b.overflow, "overflow at max: expected false, got true");
	CHECK(!cie_buf_putc(&b, '9'), "append past max: expected false, got true");
	CHECK(b.overflow, "overflow past max: expected true, got false");
	CHECK_INT_EQ(b.len, 8);
	CHECK_STR_EQ(b.data, "12345678");
	cie_buf_cleanup(&b);
}

static void test_buf_printf_small_max(void)
{
	struct cie_buf b;

	/* A formatted append that fits must succeed even when less than 64 bytes are left. */
	cie_buf_init(&b, 10);
	CHECK(cie_buf_printf(&b, "%s", "ab"), "printf \"ab\" into max 10: expected true, got false");
	CHECK_STR_EQ(b.data, "ab");
	CHECK(cie_buf_printf(&b, "%d", 123456), "printf to 8 of max 10: expected true, got false");
	CHECK_STR_EQ(b.data, "ab123456");
	CHECK(!cie_buf_printf(&b, "%s", "xyz"), "printf past max: expected false, got true");
	CHECK(b.overflow, "overflow: expected true, got false");
	CHECK_STR_EQ(b.data, "ab123456");
	cie_buf_cleanup(&b);
}

static void test_buf_printf_overflow_unchanged(void)
{
	struct cie_buf b;
	char big[300];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cie_buf_init(&b, 100);
	cie_buf_puts(&b, "abc");
	CHECK(!cie_buf_printf(&b, "%s", big), "printf past max: expected false, got true");
	CHECK(b.overflow, "overflow: expected true, got false");
	CHECK_INT_EQ(b.len, 3);
	CHECK_INT_EQ(strlen(b.data), 3);
	CHECK_STR_EQ(b.data, "abc");
	cie_buf_cleanup(&b);
}

static void test_buf_reset_keeps_allocation(void)
{
	struct cie_buf b;
	size_t cap;

	cie_buf_init(&b, 4);
	cie_buf_puts(&b, "abcd");
	cie_buf_putc(&b, 'e');
	cap = b.cap;
	cie_buf_reset(&b);
	CHECK_INT_EQ(b.len, 0);
	CHECK_INT_EQ(b.cap, cap);
	CHECK(!b.overflow, "overflow after reset: expected false, got true");
	CHECK_STR_EQ(b.data, "");
	CHECK(cie_buf_puts(&b, "xy"), "puts after reset: expected true, got false");
	CHECK_STR_EQ(b.data, "xy");
	cie_buf_cleanup(&b);
}

static void test_buf_detach_hands_over(void)
{
	struct cie_buf b;
	size_t len = 0;
	char *data;

	cie_buf_init(&b, 0);
	cie_buf_puts(&b, "hello");
	data = cie_buf_detach(&b, &len);
	CHECK_STR_EQ(data, "hello");
	CHECK_INT_EQ(len, 5);
	CHECK(b.data == NULL, "after detach: expected data NULL, got %p", (void *)b.data);
	CHECK_INT_EQ(b.len, 0);
	CHECK_INT_EQ(b.cap, 0);
	free(data);
	CHECK(cie_buf_puts(&b, "again"), "puts after detach: expected true, got false");
	CHECK_STR_EQ(b.data, "again");
	cie_buf_cleanup(&b);
}

static void test_buf_reserve_limits(void)
{
	struct cie_buf b;

	cie_buf_init(&b, 16);
	CHECK(cie_buf_reserve(&b, 16), "reserve 16 of 16: expected true, got false");
	CHECK(b.cap >= 17, "cap: expected at least 17, got %zu", b.cap);
	CHECK(!cie_buf_reserve(&b, 17), "reserve 17 of 16: expected false, got true");
	CHECK(b.overflow, "overflow: expected true, got false");
	CHECK(!cie_buf_reserve(&b, (size_t)-1), "reserve SIZE_MAX: expected false, got true");
	cie_buf_cleanup(&b);
}

int main(void)
{
	RUN(test_buf_append_and_terminate);
	RUN(test_buf_binary_bytes);
	RUN(test_buf_grows_large);
	RUN(test_buf_printf_formats);
	RUN(test_buf_max_enforced);
	RUN(test_buf_printf_small_max);
	RUN(test_buf_printf_overflow_unchanged);
	RUN(test_buf_reset_keeps_allocation);
	RUN(test_buf_detach_hands_over);
	RUN(test_buf_reserve_limits);
	return check_summary();
}
