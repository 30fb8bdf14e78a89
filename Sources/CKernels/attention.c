// Single-query attention for decode: one new token's G query heads against one KV head's dense
// cache. The cache is read once per KV head for all G query heads (GQA), which is what bounds
// decode time at long context.
//
// `fkv_attend_partial` works on one chunk of the keys and returns the chunk's softmax statistics
// (per-head max and sum of exponentials) with the unnormalised weighted sum of values, so a long
// cache can be split over threads and merged exactly (`fkv_attend_merge`): with M = max_c m_c,
// out = Σ_c e^{m_c − M}·o_c / Σ_c e^{m_c − M}·s_c.
//
// Paths (cpu.c picks one per call): AVX-512 for d = 64 and 128 (scores for 16 keys per reduction,
// then P·V for up to four heads with all accumulators in zmm registers); AVX2 for every d (an
// online softmax over L1-sized key blocks, register accumulators for d = 64 and 128, masked tails
// for other d; AVX-512 CPUs use it for d other than 64/128); scalar C as the reference.
//
// The kernels are written once (attention_kv.h) and instantiated for an f32 cache
// (fkv_attend_partial, fkv_attend_one) and for an f16 one (fkv_attend_partial_f16,
// fkv_attend_one_f16), whose loads convert binary16 to f32 in registers (F16C vcvtph2ps; the
// portable fkv_half_bits_to_float on the scalar path, which gives the same value for every input).
// The f16 cache halves the bytes each decode step reads, which at long context are most of them.
#include "CKernels.h"
#include "half.h"
#include "vec_math.h"

#include <math.h>
#include <string.h>


#if defined(FKV_X86)
// r[i] = horizontal sum of v[i] for 16 vectors, with 45 shuffles and adds instead of 16 reductions.
FKV_AVX512 static inline __m512 hsum16(const __m512 v[16]) {
    __m512 w[8], z[4], s[2];
    for (int i = 0; i < 8; i++)   // lane L of w[i]: [a0+a2, b0+b2, a1+a3, b1+b3] for a = v[2i], b = v[2i+1]
        w[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 4; i++)   // lane L of z[i]: lane-L partials of keys 4i … 4i+3, in order
        z[i] = _mm512_add_ps(_mm512_shuffle_ps(w[2 * i], w[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(w[2 * i], w[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    for (int i = 0; i < 2; i++)   // [z0(L0+L1), z0(L2+L3), z1(L0+L1), z1(L2+L3)]
        s[i] = _mm512_add_ps(_mm512_shuffle_f32x4(z[2 * i], z[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(z[2 * i], z[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_add_ps(_mm512_shuffle_f32x4(s[0], s[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(s[0], s[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

// ---------------------------------------------------------------------------------------------
// AVX2 (16 ymm registers). Keys are taken in blocks of `attend_block(d)` (one block of K, and then
// of V, is ~16 KiB and stays in L1 while every head of the group uses it), and the softmax runs
// online over the blocks: per head a running max m and sum l; a block that raises the max rescales
// the accumulated output and sum by e^{m_old − m_new}. The result is the same unnormalised
// Σ_j e^{s_j − mx}·v_j, mx, Σ_j e^{s_j − mx} as the other paths, up to rounding, and needs only
// group × block floats of scratch.

// Lane t of the result = horizontal sum of v[t], for 8 vectors (12 shuffles, 7 adds).
static inline __m256 hsum8x8(const __m256 v[8]) {
    __m256 w[4], z[2];
    for (int i = 0; i < 4; i++)   // per 128-bit half: [a0+a2, b0+b2, a1+a3, b1+b3], a = v[2i], b = v[2i+1]
        w[i] = _mm256_add_ps(_mm256_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm256_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 2; i++)   // per half: partial sums of v[4i], v[4i+1], v[4i+2], v[4i+3]
        z[i] = _mm256_add_ps(_mm256_shuffle_ps(w[2 * i], w[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm256_shuffle_ps(w[2 * i], w[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    // z[0] = [v0..v3 low-half sums | v0..v3 high-half sums], z[1] the same for v4..v7.
    return _mm256_add_ps(_mm256_permute2f128_ps(z[0], z[1], 0x20), _mm256_permute2f128_ps(z[0], z[1], 0x31));
}

// s[j] = scale · q·k_j for j < n (k rows d apart). Eight keys at a time, each with its own

// Keys per block: K (or V) of a block is about 16 KiB; a multiple of 8 in [8, 256].
static inline size_t attend_block(size_t d) {
    size_t b = 4096 / (d ? d : 1);
    b = b / 8 * 8;
    return b < 8 ? 8 : b > 256 ? 256 : b;
}

// Binary16 tail: the first n < 8 halves at p, the other lanes 0 (no masked 16-bit load in AVX2).
static inline __m256 load_half_tail256(const uint16_t *p, size_t n) {
    uint16_t buf[8] = {0};
    memcpy(buf, p, n * sizeof(uint16_t));
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)buf));
}
#endif

// ---- f32 cache
#define KV_T float
#define KV_FN(name) name##_f32
#define KV_API(name) name
#define KV_AT(p, i) ((p)[i])
#define KV_LOAD512(p) _mm512_loadu_ps(p)
#define KV_LOAD256(p) _mm256_loadu_ps(p)
#define KV_LOADTAIL256(p, mask, n) _mm256_maskload_ps(p, mask)
#include "attention_kv.h"

// ---- f16 cache (IEEE binary16 bits)
#define KV_T uint16_t
#define KV_FN(name) name##_f16
#define KV_API(name) name##_f16
#define KV_AT(p, i) fkv_half_bits_to_float((p)[i])
#define KV_LOAD512(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define KV_LOAD256(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define KV_LOADTAIL256(p, mask, n) load_half_tail256(p, n)
#include "attention_kv.h"

void fkv_attend_merge(size_t chunks, size_t group, size_t d, const float *outs, const float *mxs,
                      const float *sums, float *out) {
    for (size_t g = 0; g < group; g++) {
        float m = -INFINITY;
        for (size_t c = 0; c < chunks; c++) if (mxs[c * group + g] > m) m = mxs[c * group + g];
        float total = 0.f;
        float *o = out + g * d;
        for (size_t i = 0; i < d; i++) o[i] = 0.f;
        if (m == -INFINITY) continue;   // no keys at all
        for (size_t c = 0; c < chunks; c++) {
            const float w = expf(mxs[c * group + g] - m);
            total += w * sums[c * group + g];
            const float *oc = outs + (c * group + g) * d;
            for (size_t i = 0; i < d; i++) o[i] += w * oc[i];
        }
        const float inv = 1.f / total;
        for (size_t i = 0; i < d; i++) o[i] *= inv;
    }
}
