/* Internet checksum for lwIP (LWIP_CHKSUM) and a fused copy + checksum for data that
 * tcp_write copies into segments (LWIP_CHKSUM_COPY, with LWIP_CHECKSUM_ON_COPY).
 * lwIP's own routine handles 4 bytes per step with a carry test each time and, for
 * copies, makes a second pass over the data; on 64 KiB segments that was the biggest
 * cost of host->guest TCP. This one adds 32-bit words into a 64-bit accumulator (no
 * carry tests, vectorisable) and checksums each copied chunk while it is in L1.
 *
 * Contract (same as lwip_standard_chksum): the non-inverted ones' complement sum of the
 * buffer read as native 16-bit words, pairs aligned to the buffer's address parity,
 * returned in the same byte order as those words. */
#include <stdint.h>
#include <string.h>

#include "lwipopts.h"

/* Sum of the bytes at p as native 32-bit words plus a final 16-bit word; len is even. */
static uint64_t sum_even(const uint8_t *p, size_t len) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  while (len >= 16) {
    uint32_t w[4];
    memcpy(w, p, sizeof w);
    a += w[0];
    b += w[1];
    c += w[2];
    d += w[3];
    p += 16;
    len -= 16;
  }
  while (len >= 4) {
    uint32_t w;
    memcpy(&w, p, sizeof w);
    a += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t w;
    memcpy(&w, p, sizeof w);
    b += w;
  }
  return a + b + c + d;
}

/* Folds a 64-bit partial sum to 16 bits (end-around carry). */
static uint16_t fold(uint64_t sum) {
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return (uint16_t)sum;
}

/* Shared core: checksum of `len` bytes whose pairing follows `parity_base`'s address;
 * the bytes are read from `data` (which may be a copy source with another alignment). */
static uint16_t checksum_paired(const uint8_t *data, size_t len, int odd) {
  uint16_t edge = 0; /* the odd leading byte (high half) and the trailing byte (low half) */
  uint64_t sum;
  if (odd && len > 0) {
    ((uint8_t *)&edge)[1] = *data++;
    len--;
  }
  sum = sum_even(data, len & ~(size_t)1);
  if (len & 1) ((uint8_t *)&edge)[0] = data[len - 1];
  sum += edge;
  {
    uint16_t folded = fold(sum);
    if (odd) folded = (uint16_t)((folded << 8) | (folded >> 8));
    return folded;
  }
}

unsigned short usernet_chksum(const void *dataptr, int len) {
  const uint8_t *p = (const uint8_t *)dataptr;
  return checksum_paired(p, len > 0 ? (size_t)len : 0, (int)((uintptr_t)p & 1));
}

unsigned short usernet_chksum_copy(void *dst, const void *src, unsigned short len) {
  /* Copy and sum in L1-sized chunks; chunk lengths are even so pairs never straddle. */
  enum { kChunk = 4096 };
  uint8_t *d = (uint8_t *)dst;
  const uint8_t *s = (const uint8_t *)src;
  const int odd = (int)((uintptr_t)d & 1);
  size_t left = len;
  uint64_t sum = 0;
  uint16_t edge = 0;
  if (odd && left > 0) {
    *d = *s;
    ((uint8_t *)&edge)[1] = *s;
    d++, s++, left--;
  }
  while (left >= 2) {
    size_t n = left < kChunk ? (left & ~(size_t)1) : kChunk;
    memcpy(d, s, n);
    sum += sum_even(d, n);
    d += n, s += n, left -= n;
  }
  if (left == 1) {
    *d = *s;
    ((uint8_t *)&edge)[0] = *s;
  }
  sum += edge;
  {
    uint16_t folded = fold(sum);
    if (odd) folded = (uint16_t)((folded << 8) | (folded >> 8));
    return folded;
  }
}
