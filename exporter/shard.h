/* SPDX-License-Identifier: MIT */
/*
 * Sharding: several exporters split the projects between them by a
 * stable hash of the project slug, so that each project is polled by
 * exactly one of them.
 */
#ifndef CIE_SHARD_H
#define CIE_SHARD_H

#include <stdbool.h>
#include <stdint.h>

/* FNV-1a, 64 bits, of the bytes of slug without its terminating NUL. */
uint64_t cie_shard_hash(const char *slug);

/*
 * Return true when the project slug belongs to shard index of total:
 * cie_shard_hash(slug) % total == index. With total 1 every slug does.
 */
bool cie_shard_owns(unsigned total, unsigned index, const char *slug);

#endif
