/* SPDX-License-Identifier: MIT */
/*
 * The shard hash: 64-bit FNV-1a, with offset basis 14695981039346656037
 * and prime 1099511628211.
 */
#include "shard.h"

#define FNV64_OFFSET_BASIS UINT64_C(0xcbf29ce484222325)
#define FNV64_PRIME UINT64_C(0x100000001b3)

uint64_t cie_shard_hash(const char *slug)
{
	uint64_t h = FNV64_OFFSET_BASIS;

	for (const unsigned char *p = (const unsigned char *)slug; *p; p++) {
		h ^= *p;
		h *= FNV64_PRIME;
	}
	return h;
}

bool cie_shard_owns(unsigned total, unsigned index, const char *slug)
{
	if (total <= 1)
		return true;
	return cie_shard_hash(slug) % total == index;
}
