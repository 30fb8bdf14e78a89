// Single-query attention for decode: one new token's G query heads against one KV head's dense
// cache. The cache is read once per KV head for all G query heads (GQA), which is what bounds
// decode time at long context.
//
// `fkv_attend_partial` works on one chunk of the keys and returns the chunk's softmax statistics
// (per-head max and sum of exponentials) with the unnormalised weighted sum of values, so a long
// cache can be split over threads and merged exactly (`fkv_attend_merge`): with M = max_c m_c,
// out = Σ_c e^{m_c − M}·o_c / Σ_c e^{m_c − M}·s_c.
#include "CKernels.h"

#include <math.h>
#include <string.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define FKV_X86 1
#define FKV_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#endif

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
// Cephes-style exp on 16 lanes; max relative error ~2e-7 against expf on [-87, 88].
FKV_AVX512 static inline __m512 exp512(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.3f));
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), magic);
    __m512 fx = _mm512_sub_ps(t, magic);
    __m512 r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 y = _mm512_set1_ps(1.9875691500e-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894e-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459e-1f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201e-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512i n = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(0x4B400000));
    __m512 pow2n = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(127)), 23));
    return _mm512_mul_ps(y, pow2n);
}

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

static int use_avx512(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    }
    return cached;
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
    if (use_avx512()) {
        if (d == 64) { partial_avx512_4(q, group, k, v, len, scale, out, mx, sum, scratch); return; }
        if (d == 128) { partial_avx512_8(q, group, k, v, len, scale, out, mx, sum, scratch); return; }
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
