#include "CKernels.h"
#include <string.h>

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static const uint64_t P1 = 0x9E3779B185EBCA87ULL, P2 = 0xC2B2AE3D27D4EB4FULL, P3 = 0x165667B19E3779F9ULL;

uint64_t fkv_hash64(const void *data, size_t length, uint64_t seed) {
    const uint8_t *p = (const uint8_t *)data;
    uint64_t a = seed + P1 + P2, b = seed + P2, c = seed, d = seed - P1;
    size_t i = 0;
    for (; i + 32 <= length; i += 32) {
        uint64_t w[4];
        memcpy(w, p + i, 32);
        a = rotl64(a + w[0] * P2, 31) * P1;
        b = rotl64(b + w[1] * P2, 31) * P1;
        c = rotl64(c + w[2] * P2, 31) * P1;
        d = rotl64(d + w[3] * P2, 31) * P1;
    }
    uint64_t h = rotl64(a, 1) + rotl64(b, 7) + rotl64(c, 12) + rotl64(d, 18) + (uint64_t)length;
    for (; i < length; i++) h = rotl64(h ^ (p[i] * P3), 11) * P1;
    h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32;
    return h;
}
