// IEEE binary16 → float in portable C: the scalar reference of every f16 path (the vector paths
// use F16C's vcvtph2ps, which gives the same value for every input, subnormals included).
#ifndef FKV_HALF_H
#define FKV_HALF_H
#include <stdint.h>
#include <string.h>

static inline float fkv_half_bits_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) bits = sign;
        else { exp = 127 - 15 + 1; while (!(mant & 0x400)) { mant <<= 1; exp--; } mant &= 0x3ff; bits = sign | (exp << 23) | (mant << 13); }
    } else if (exp == 31) bits = sign | 0x7f800000 | (mant << 13);
    else bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    float f; memcpy(&f, &bits, 4); return f;
}
#endif
