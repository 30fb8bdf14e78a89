// The decode attention kernels, written once over the cache's element type and included by
// attention.c once per KV dtype (f32, and IEEE binary16 for `--kv-dtype f16`). The includer defines:
//   KV_T                          the stored element (float or uint16_t holding binary16 bits)
//   KV_FN(name)                   the name of a static kernel for this element type
//   KV_API(name)                  the name of a public entry point for this element type
//   KV_AT(p, i)                   element i of p as a float (the scalar reference's load)
//   KV_LOAD512(p)                 16 elements at p as __m512 (AVX-512 path)
//   KV_LOAD256(p)                 8 elements at p as __m256 (AVX2 path)
//   KV_LOADTAIL256(p, mask, n)    the first n < 8 elements at p as __m256, the other lanes 0
// The f16 loads convert as they load (vcvtph2ps), so the arithmetic after each load, and the order
// of every sum, is the f32 kernel's: an f16 cache gives what the f32 kernel gives on the same values
// widened to f32, up to the polynomial exp's and FMA's rounding (the same as between f32 paths).
// Every macro is #undef'd at the end, so the file can be included again.

// Portable path: scores, softmax statistics, unnormalised P·V.
static void KV_FN(partial_scalar)(const float *q, size_t group, const KV_T *k, const KV_T *v, size_t len, size_t d,
                           float scale, float *out, float *mx, float *sum, float *scratch) {
    for (size_t g = 0; g < group; g++) {
        float *s = scratch + g * len;
        float m = -INFINITY;
        for (size_t j = 0; j < len; j++) {
            float acc = 0.f;
            for (size_t c = 0; c < d; c++) acc += q[g * d + c] * KV_AT(k, j * d + c);
            s[j] = acc * scale;
            if (s[j] > m) m = s[j];
        }
        float total = 0.f;
        for (size_t j = 0; j < len; j++) { s[j] = expf(s[j] - m); total += s[j]; }
        float *o = out + g * d;
        for (size_t c = 0; c < d; c++) o[c] = 0.f;
        for (size_t j = 0; j < len; j++) {
            const float p = s[j];
            for (size_t c = 0; c < d; c++) o[c] += p * KV_AT(v, j * d + c);
        }
        mx[g] = m;
        sum[g] = total;
    }
}

#if defined(FKV_X86)

// d = 16·NV. Scores for one head at a time (its query stays in registers, 16 keys per reduction),
// then softmax statistics, then P·V for up to four heads at a time so every value row is loaded
// once per four heads, with all accumulators in registers.
#define DEFINE_PARTIAL(NV)                                                                               \
FKV_AVX512 static void KV_FN(partial_avx512_##NV)(const float *q, size_t group, const KV_T *k, const KV_T *v, \
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
                const KV_T *kj = k + (j + t) * d;                                                          \
                __m512 a = _mm512_mul_ps(qv[0], KV_LOAD512(kj));                                      \
                for (int c = 1; c < NV; c++) a = _mm512_fmadd_ps(qv[c], KV_LOAD512(kj + 16 * c), a); \
                part[t] = a;                                                                               \
            }                                                                                              \
            __m512 sc = _mm512_mul_ps(hsum16(part), vscale);                                               \
            _mm512_storeu_ps(s + j, sc);                                                                   \
            vmax = _mm512_max_ps(vmax, sc);                                                                \
        }                                                                                                  \
        float m = _mm512_reduce_max_ps(vmax);                                                              \
        for (; j < len; j++) {                                                                             \
            const KV_T *kj = k + j * d;                                                                    \
            __m512 a = _mm512_mul_ps(qv[0], KV_LOAD512(kj));                                          \
            for (int c = 1; c < NV; c++) a = _mm512_fmadd_ps(qv[c], KV_LOAD512(kj + 16 * c), a);     \
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
            for (int c = 0; c < NV; c++) vv[c] = KV_LOAD512(v + j * d + 16 * c);                     \
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

// accumulator (eight independent FMA chains); the query streams from L1. Inlined with d = 64 and
// d = 128 constant so the loops over d unroll into registers.
__attribute__((always_inline)) static inline void KV_FN(scores_avx2)(const float *q, const KV_T *k, size_t n, size_t d,
                                                              float scale, float *s) {
    const size_t full = d / 8, rem = d % 8;
    const __m256i tail = lanes_below(rem);
    const __m256 vscale = _mm256_set1_ps(scale);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const KV_T *kj = k + j * d;
        __m256 acc[8];
        for (int t = 0; t < 8; t++) acc[t] = _mm256_setzero_ps();
        for (size_t c = 0; c < full; c++) {
            const __m256 qc = _mm256_loadu_ps(q + 8 * c);
            for (int t = 0; t < 8; t++) acc[t] = _mm256_fmadd_ps(qc, KV_LOAD256(kj + t * d + 8 * c), acc[t]);
        }
        if (rem) {
            const __m256 qc = _mm256_maskload_ps(q + 8 * full, tail);
            for (int t = 0; t < 8; t++)
                acc[t] = _mm256_fmadd_ps(qc, KV_LOADTAIL256(kj + t * d + 8 * full, tail, rem), acc[t]);
        }
        _mm256_storeu_ps(s + j, _mm256_mul_ps(hsum8x8(acc), vscale));
    }
    for (; j < n; j++) {
        const KV_T *kj = k + j * d;
        __m256 acc = _mm256_setzero_ps();
        for (size_t c = 0; c < full; c++)
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + 8 * c), KV_LOAD256(kj + 8 * c), acc);
        if (rem)
            acc = _mm256_fmadd_ps(_mm256_maskload_ps(q + 8 * full, tail), KV_LOADTAIL256(kj + 8 * full, tail, rem), acc);
        s[j] = hsum256(acc) * scale;
    }
}

// o[0..8·NV) = alpha·o + Σ_{j<n} p_j·v_j[0..8·NV) for NV ≤ 8 full vectors, accumulators in registers.
#define DEFINE_PV(NV)                                                                                      \
static inline void KV_FN(pv_avx2_##NV)(float *o, __m256 alpha, const float *p, const KV_T *v, size_t n, size_t d) { \
    __m256 acc[NV];                                                                                        \
    for (int i = 0; i < NV; i++) acc[i] = _mm256_mul_ps(_mm256_loadu_ps(o + 8 * i), alpha);               \
    for (size_t j = 0; j < n; j++) {                                                                       \
        const __m256 pj = _mm256_broadcast_ss(p + j);                                                      \
        for (int i = 0; i < NV; i++) acc[i] = _mm256_fmadd_ps(pj, KV_LOAD256(v + j * d + 8 * i), acc[i]); \
    }                                                                                                      \
    for (int i = 0; i < NV; i++) _mm256_storeu_ps(o + 8 * i, acc[i]);                                     \
}
DEFINE_PV(8)
DEFINE_PV(1)

__attribute__((always_inline)) static inline void KV_FN(pv_avx2)(float *o, float alpha, const float *p, const KV_T *v,
                                                          size_t n, size_t d) {
    const size_t full = d / 8, rem = d % 8;
    const __m256 va = _mm256_set1_ps(alpha);
    size_t c = 0;
    for (; c + 8 <= full; c += 8) KV_FN(pv_avx2_8)(o + 8 * c, va, p, v + 8 * c, n, d);   // 64 columns at a time
    for (; c < full; c++) KV_FN(pv_avx2_1)(o + 8 * c, va, p, v + 8 * c, n, d);
    if (rem) {
        const __m256i tail = lanes_below(rem);
        float *oc = o + 8 * full;
        __m256 acc = _mm256_mul_ps(_mm256_maskload_ps(oc, tail), va);
        for (size_t j = 0; j < n; j++)
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j), KV_LOADTAIL256(v + j * d + 8 * full, tail, rem), acc);
        _mm256_maskstore_ps(oc, tail, acc);
    }
}


__attribute__((always_inline)) static inline void KV_FN(partial_avx2_d)(const float *q, size_t group, const KV_T *k,
                                                                 const KV_T *v, size_t len, size_t d, float scale,
                                                                 float *out, float *mx, float *sum, float *scratch) {
    const size_t block = attend_block(d), stride = len < block ? len : block;
    for (size_t g = 0; g < group; g++) { mx[g] = -INFINITY; sum[g] = 0.f; }
    memset(out, 0, group * d * sizeof(float));
    for (size_t j0 = 0; j0 < len; j0 += block) {
        const size_t n = len - j0 < block ? len - j0 : block;
        const KV_T *kb = k + j0 * d, *vb = v + j0 * d;
        for (size_t g = 0; g < group; g++) KV_FN(scores_avx2)(q + g * d, kb, n, d, scale, scratch + g * stride);
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
            KV_FN(pv_avx2)(out + g * d, alpha, s, vb, n, d);
        }
    }
}

static void KV_FN(partial_avx2)(const float *q, size_t group, const KV_T *k, const KV_T *v, size_t len, size_t d,
                         float scale, float *out, float *mx, float *sum, float *scratch) {
    if (d == 64) KV_FN(partial_avx2_d)(q, group, k, v, len, 64, scale, out, mx, sum, scratch);
    else if (d == 128) KV_FN(partial_avx2_d)(q, group, k, v, len, 128, scale, out, mx, sum, scratch);
    else KV_FN(partial_avx2_d)(q, group, k, v, len, d, scale, out, mx, sum, scratch);
}

#endif

void KV_API(fkv_attend_partial)(const float *q, size_t group, const KV_T *k, const KV_T *v, size_t len, size_t d,
                        float scale, float *out, float *mx, float *sum, float *scratch) {
    if (len == 0) {
        memset(out, 0, group * d * sizeof(float));
        for (size_t g = 0; g < group; g++) { mx[g] = -INFINITY; sum[g] = 0.f; }
        return;
    }
#if defined(FKV_X86)
    switch (fkv_kernel_path()) {
    case FKV_PATH_AVX512:
        if (d == 64) { KV_FN(partial_avx512_4)(q, group, k, v, len, scale, out, mx, sum, scratch); return; }
        if (d == 128) { KV_FN(partial_avx512_8)(q, group, k, v, len, scale, out, mx, sum, scratch); return; }
        KV_FN(partial_avx2)(q, group, k, v, len, d, scale, out, mx, sum, scratch);
        return;
    case FKV_PATH_AVX2:
        KV_FN(partial_avx2)(q, group, k, v, len, d, scale, out, mx, sum, scratch);
        return;
    case FKV_PATH_SCALAR:
        break;
    }
#endif
    KV_FN(partial_scalar)(q, group, k, v, len, d, scale, out, mx, sum, scratch);
}

void KV_API(fkv_attend_one)(const float *q, size_t group, const KV_T *k, const KV_T *v, size_t len,
                    size_t d, float scale, float *out, float *scratch) {
    float mx[64], sum[64];
    for (size_t g0 = 0; g0 < group; g0 += 64) {
        const size_t n = group - g0 < 64 ? group - g0 : 64;
        KV_API(fkv_attend_partial)(q + g0 * d, n, k, v, len, d, scale, out + g0 * d, mx, sum, scratch);
        for (size_t g = 0; g < n; g++) {
            const float inv = sum[g] > 0.f ? 1.f / sum[g] : 0.f;
            for (size_t i = 0; i < d; i++) out[(g0 + g) * d + i] *= inv;
        }
    }
}

#undef DEFINE_PARTIAL
#undef DEFINE_PV
#undef KV_T
#undef KV_FN
#undef KV_API
#undef KV_AT
#undef KV_LOAD512
#undef KV_LOAD256
#undef KV_LOADTAIL256
