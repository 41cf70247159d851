/* CRC-32C (Castagnoli), the checksum of every log record and snapshot: hardware instruction
 * when the CPU has SSE4.2, a table otherwise (same results). */
#ifndef ZKFS_CRC32C_H
#define ZKFS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc over n bytes; start with crc = 0. */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

#endif
