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
#include "CKernels.h"
#include "vec_math.h"

#include <math.h>
#include <string.h>

// Portable path: scores, softmax statistics, unnormalised P·V.
static void partial_scalar(const float *q, size_t group, const float *k, const float *v, size_t len, size_t d,
                           float scale, float *out, float *mx, float *sum, float *scratch) {
    for (size_t g = 0; g < group; g++) {
        float *s = scratch + g * len;
        float m = -INFINITY;
        for (size_t j = 0; j < len; j++) {
            float acc = 0.f;
            for (size_t c = 0; c < d; c++) acc += q[g * d + c] * k[j * d + c];
            s[j] = acc * scale;
            if (s[j] > m) m = s[j];
        }
        float total = 0.f;
        for (size_t j = 0; j < len; j++) { s[j] = expf(s[j] - m); total += s[j]; }
        float *o = out + g * d;
        for (size_t c = 0; c < d; c++) o[c] = 0.f;
        for (size_t j = 0; j < len; j++) {
            const float p = s[j];
            for (size_t c = 0; c < d; c++) o[c] += p * v[j * d + c];
        }
        mx[g] = m;
        sum[g] = total;
    }
}

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

// d = 16·NV. Scores for one head at a time (its query stays in registers, 16 keys per reduction),
// then softmax statistics, then P·V for up to four heads at a time so every value row is loaded
// once per four heads, with all accumulators in registers.
#define DEFINE_PARTIAL(NV)                                                                                 \
FKV_AVX512 static void partial_avx512_##NV(const float *q, size_t group, const float *k, const float *v,  \
                                           size_t len, float scale, float *out, float *mx, float *sum,     \
                                           float *scratch) {                                               \
    const size_t d = 16 * NV;                                                                              \
    const __m512 vscale = _mm512_set1_ps(scale);                                                           \
    for (size_t g = 0; g < group; g++) {                                                                   \
        float *s = scratch + g * len;                                                                      \
        __m512 qv[NV];                                                                                     \
        for (int c = 0; c < NV; c++) qv[c] = _mm512_loadu_ps(q + g * d + 16 * c);                         \
        size_t j = 0;                                                                                      \
        __m512 vmax = _mm512_set1_ps(-INFINITY);                                                           \
        for (; j + 16 <= len; j += 16) {                                                                   \
            __m512 part[16];                                                                               \
            for (int t = 0; t < 16; t++) {                                                                 \
                const float *kj = k + (j + t) * d;                                                         \
                __m512 a = _mm512_mul_ps(qv[0], _mm512_loadu_ps(kj));                                      \
                for (int c = 1; c < NV; c++) a = _mm512_fmadd_ps(qv[c], _mm512_loadu_ps(kj + 16 * c), a); \
                part[t] = a;                                                                               \
            }                                                                                              \
            __m512 sc = _mm512_mul_ps(hsum16(part), vscale);                                               \
            _mm512_storeu_ps(s + j, sc);                                                                   \
            vmax = _mm512_max_ps(vmax, sc);                                                                \
        }                                                                                                  \
        float m = _mm512_reduce_max_ps(vmax);                                                              \
        for (; j < len; j++) {                                                                             \
            const float *kj = k + j * d;                                                                   \
            __m512 a = _mm512_mul_ps(qv[0], _mm512_loadu_ps(kj));                                          \
            for (int c = 1; c < NV; c++) a = _mm512_fmadd_ps(qv[c], _mm512_loadu_ps(kj + 16 * c), a);     \
            s[j] = _mm512_reduce_add_ps(a) * scale;                                                        \
            if (s[j] > m) m = s[j];                                                                        \
        }                                                                                                  \
        const __m512 vm = _mm512_set1_ps(m);                                                               \
        __m512 vsum = _mm512_setzero_ps();                                                                 \
        for (j = 0; j + 16 <= len; j += 16) {                                                              \
            __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(s + j), vm));                                  \
            _mm512_storeu_ps(s + j, e);                                                                    \
            vsum = _mm512_add_ps(vsum, e);                                                                 \
        }                                                                                                  \
        if (j < len) {                                                                                     \
            const __mmask16 tail = (__mmask16)((1u << (len - j)) - 1);                                     \
            __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, s + j), vm));                      \
            _mm512_mask_storeu_ps(s + j, tail, e);                                                         \
            vsum = _mm512_add_ps(vsum, _mm512_maskz_mov_ps(tail, e));                                      \
        }                                                                                                  \
        mx[g] = m;                                                                                         \
        sum[g] = _mm512_reduce_add_ps(vsum);                                                               \
    }                                                                                                      \
    for (size_t g0 = 0; g0 < group; g0 += 4) {                                                             \
        const size_t heads = group - g0 < 4 ? group - g0 : 4;                                              \
        __m512 acc[4][NV];                                                                                 \
        for (int h = 0; h < 4; h++)                                                                        \
            for (int c = 0; c < NV; c++) acc[h][c] = _mm512_setzero_ps();                                  \
        const float *s0 = scratch + g0 * len;                                                              \
        for (size_t j = 0; j < len; j++) {                                                                 \
            __m512 vv[NV];                                                                                 \
            for (int c = 0; c < NV; c++) vv[c] = _mm512_loadu_ps(v + j * d + 16 * c);                     \
            for (int h = 0; h < 4; h++) {                                                                  \
                if ((size_t)h < heads) {                                                                   \
                    const __m512 p = _mm512_set1_ps(s0[h * len + j]);                                      \
                    for (int c = 0; c < NV; c++) acc[h][c] = _mm512_fmadd_ps(p, vv[c], acc[h][c]);        \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
        for (size_t h = 0; h < heads; h++)                                                                 \
            for (int c = 0; c < NV; c++) _mm512_storeu_ps(out + (g0 + h) * d + 16 * c, acc[h][c]);        \
    }                                                                                                      \
}
DEFINE_PARTIAL(4)
DEFINE_PARTIAL(8)

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
// accumulator (eight independent FMA chains); the query streams from L1. Inlined with d = 64 and
// d = 128 constant so the loops over d unroll into registers.
__attribute__((always_inline)) static inline void scores_avx2(const float *q, const float *k, size_t n, size_t d,
                                                              float scale, float *s) {
    const size_t full = d / 8, rem = d % 8;
    const __m256i tail = lanes_below(rem);
    const __m256 vscale = _mm256_set1_ps(scale);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const float *kj = k + j * d;
        __m256 acc[8];
        for (int t = 0; t < 8; t++) acc[t] = _mm256_setzero_ps();
        for (size_t c = 0; c < full; c++) {
            const __m256 qc = _mm256_loadu_ps(q + 8 * c);
            for (int t = 0; t < 8; t++) acc[t] = _mm256_fmadd_ps(qc, _mm256_loadu_ps(kj + t * d + 8 * c), acc[t]);
        }
        if (rem) {
            const __m256 qc = _mm256_maskload_ps(q + 8 * full, tail);
            for (int t = 0; t < 8; t++)
                acc[t] = _mm256_fmadd_ps(qc, _mm256_maskload_ps(kj + t * d + 8 * full, tail), acc[t]);
        }
        _mm256_storeu_ps(s + j, _mm256_mul_ps(hsum8x8(acc), vscale));
    }
    for (; j < n; j++) {
        const float *kj = k + j * d;
        __m256 acc = _mm256_setzero_ps();
        for (size_t c = 0; c < full; c++)
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + 8 * c), _mm256_loadu_ps(kj + 8 * c), acc);
        if (rem)
            acc = _mm256_fmadd_ps(_mm256_maskload_ps(q + 8 * full, tail), _mm256_maskload_ps(kj + 8 * full, tail), acc);
        s[j] = hsum256(acc) * scale;
    }
}

// o[0..8·NV) = alpha·o + Σ_{j<n} p_j·v_j[0..8·NV) for NV ≤ 8 full vectors, accumulators in registers.
#define DEFINE_PV(NV)                                                                                      \
static inline void pv_avx2_##NV(float *o, __m256 alpha, const float *p, const float *v, size_t n, size_t d) { \
    __m256 acc[NV];                                                                                        \
    for (int i = 0; i < NV; i++) acc[i] = _mm256_mul_ps(_mm256_loadu_ps(o + 8 * i), alpha);               \
    for (size_t j = 0; j < n; j++) {                                                                       \
        const __m256 pj = _mm256_broadcast_ss(p + j);                                                      \
        for (int i = 0; i < NV; i++) acc[i] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(v + j * d + 8 * i), acc[i]); \
    }                                                                                                      \
    for (int i = 0; i < NV; i++) _mm256_storeu_ps(o + 8 * i, acc[i]);                                     \
}
DEFINE_PV(8)
DEFINE_PV(1)

__attribute__((always_inline)) static inline void pv_avx2(float *o, float alpha, const float *p, const float *v,
                                                          size_t n, size_t d) {
    const size_t full = d / 8, rem = d % 8;
    const __m256 va = _mm256_set1_ps(alpha);
    size_t c = 0;
    for (; c + 8 <= full; c += 8) pv_avx2_8(o + 8 * c, va, p, v + 8 * c, n, d);   // 64 columns at a time
    for (; c < full; c++) pv_avx2_1(o + 8 * c, va, p, v + 8 * c, n, d);
    if (rem) {
        const __m256i tail = lanes_below(rem);
        float *oc = o + 8 * full;
        __m256 acc = _mm256_mul_ps(_mm256_maskload_ps(oc, tail), va);
        for (size_t j = 0; j < n; j++)
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j), _mm256_maskload_ps(v + j * d + 8 * full, tail), acc);
        _mm256_maskstore_ps(oc, tail, acc);
    }
}

// Keys per block: K (or V) of a block is about 16 KiB; a multiple of 8 in [8, 256].
static inline size_t attend_block(size_t d) {
    size_t b = 4096 / (d ? d : 1);
    b = b / 8 * 8;
    return b < 8 ? 8 : b > 256 ? 256 : b;
}

__attribute__((always_inline)) static inline void partial_avx2_d(const float *q, size_t group, const float *k,
                                                                 const float *v, size_t len, size_t d, float scale,
                                                                 float *out, float *mx, float *sum, float *scratch) {
    const size_t block = attend_block(d), stride = len < block ? len : block;
    for (size_t g = 0; g < group; g++) { mx[g] = -INFINITY; sum[g] = 0.f; }
    memset(out, 0, group * d * sizeof(float));
    for (size_t j0 = 0; j0 < len; j0 += block) {
        const size_t n = len - j0 < block ? len - j0 : block;
        const float *kb = k + j0 * d, *vb = v + j0 * d;
        for (size_t g = 0; g < group; g++) scores_avx2(q + g * d, kb, n, d, scale, scratch + g * stride);
        for (size_t g = 0; g < group; g++) {
            float *s = scratch + g * stride;
            __m256 vmax = _mm256_set1_ps(-INFINITY);
            size_t j = 0;
            for (; j + 8 <= n; j += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(s + j));
            float bm = hmax256(vmax);
            for (; j < n; j++) bm = s[j] > bm ? s[j] : bm;
            const float m = bm > mx[g] ? bm : mx[g];
            const float alpha = mx[g] == -INFINITY ? 0.f : expf(mx[g] - m);   // 1 when the max holds
            const __m256 vm = _mm256_set1_ps(m);
            __m256 vsum = _mm256_setzero_ps();
            for (j = 0; j + 8 <= n; j += 8) {
                const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
                _mm256_storeu_ps(s + j, e);
                vsum = _mm256_add_ps(vsum, e);
            }
            float total = hsum256(vsum);
            for (; j < n; j++) { s[j] = expf(s[j] - m); total += s[j]; }
            mx[g] = m;
            sum[g] = sum[g] * alpha + total;
            pv_avx2(out + g * d, alpha, s, vb, n, d);
        }
    }
}

static void partial_avx2(const float *q, size_t group, const float *k, const float *v, size_t len, size_t d,
                         float scale, float *out, float *mx, float *sum, float *scratch) {
    if (d == 64) partial_avx2_d(q, group, k, v, len, 64, scale, out, mx, sum, scratch);
    else if (d == 128) partial_avx2_d(q, group, k, v, len, 128, scale, out, mx, sum, scratch);
    else partial_avx2_d(q, group, k, v, len, d, scale, out, mx, sum, scratch);
}
#endif

void fkv_attend_partial(const float *q, size_t group, const float *k, const float *v, size_t len, size_t d,
                        float scale, float *out, float *mx, float *sum, float *scratch) {
    if (len == 0) {
        memset(out, 0, group * d * sizeof(float));
        for (size_t g = 0; g < group; g++) { mx[g] = -INFINITY; sum[g] = 0.f; }
        return;
    }
#if defined(FKV_X86)
    switch (fkv_kernel_path()) {
    case FKV_PATH_AVX512:
        if (d == 64) { partial_avx512_4(q, group, k, v, len, scale, out, mx, sum, scratch); return; }
        if (d == 128) { partial_avx512_8(q, group, k, v, len, scale, out, mx, sum, scratch); return; }
        partial_avx2(q, group, k, v, len, d, scale, out, mx, sum, scratch);
        return;
    case FKV_PATH_AVX2:
        partial_avx2(q, group, k, v, len, d, scale, out, mx, sum, scratch);
        return;
    case FKV_PATH_SCALAR:
        break;
    }
#endif
    partial_scalar(q, group, k, v, len, d, scale, out, mx, sum, scratch);
}

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

void fkv_attend_one(const float *q, size_t group, const float *k, const float *v, size_t len,
                    size_t d, float scale, float *out, float *scratch) {
    float mx[64], sum[64];
    for (size_t g0 = 0; g0 < group; g0 += 64) {
        const size_t n = group - g0 < 64 ? group - g0 : 64;
        fkv_attend_partial(q + g0 * d, n, k, v, len, d, scale, out + g0 * d, mx, sum, scratch);
        for (size_t g = 0; g < n; g++) {
            const float inv = sum[g] > 0.f ? 1.f / sum[g] : 0.f;
            for (size_t i = 0; i < d; i++) out[(g0 + g) * d + i] *= inv;
        }
    }
}
