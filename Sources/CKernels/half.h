// IEEE binary16 ⇄ float in portable C: the scalar reference of every f16 path (the vector paths
// use F16C's vcvtph2ps / vcvtps2ph, which give the same bits for every input, subnormals and NaNs
// included; half.c's tests check that on every path).
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

// float → binary16, rounding to nearest even (what vcvtps2ph does with _MM_FROUND_TO_NEAREST_INT):
// overflow (|f| ≥ 65520) gives ±inf, values below half the smallest subnormal (2^-25) give ±0, and
// a NaN stays a NaN: its top 10 mantissa bits are kept and the quiet bit is set, as F16C does.
static inline uint16_t fkv_float_to_half_bits(float f) {
    uint32_t x; memcpy(&x, &f, 4);
    const uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    const uint32_t a = x & 0x7fffffff;
    if (a > 0x7f800000) return (uint16_t)(sign | 0x7e00 | ((a >> 13) & 0x3ff));   // NaN
    if (a >= 0x47800000) return (uint16_t)(sign | 0x7c00);                        // ≥ 2^16 (and inf): inf
    const uint32_t e = a >> 23, m = (a & 0x7fffff) | 0x800000;                   // f = m · 2^(e − 150)
    if (e < 113) {                                     // below 2^-14: a subnormal half, units of 2^-24
        if (e < 102) return sign;                      // below 2^-25: rounds to 0 (2^-25 itself ties to 0)
        const uint32_t shift = 126 - e, r = m >> shift, rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        return (uint16_t)(sign | (r + (rem > halfway || (rem == halfway && (r & 1)))));
    }
    const uint32_t h = ((e - 112) << 10) | ((a >> 13) & 0x3ff), rem = a & 0x1fff;   // normal
    return (uint16_t)(sign | (h + (rem > 0x1000 || (rem == 0x1000 && (h & 1)))));   // a carry gives inf
}
#endif
