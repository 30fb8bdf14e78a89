// Single-query attention for decode: one new token's G query heads against one KV head's dense
// cache. The cache is read once per KV head for all G query heads (GQA), which is what bounds
// decode time at long context.
#include "CKernels.h"

#include <math.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define FKV_AVX2 1

// Cephes-style exp on 8 lanes; max relative error ~2e-7 against expf on [-87, 88].
static inline __m256 exp256(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), magic);
    __m256 fx = _mm256_sub_ps(t, magic);
    __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i n = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000));
    __m256 pow2n = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(y, pow2n);
}

static inline float hmax256(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}
static inline float hadd256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

void fkv_attend_one(const float *q, size_t group, const float *k, const float *v, size_t len,
                    size_t d, float scale, float *out, float *scratch) {
    for (size_t g = 0; g < group * d; g++) out[g] = 0.f;
    if (len == 0) return;
#if defined(FKV_AVX2)
    if (d % 8 == 0 && d <= 256) {
        // Scores: every key row is loaded once and dotted with all G queries.
        for (size_t j = 0; j < len; j++) {
            const float *kj = k + j * d;
            for (size_t g = 0; g < group; g++) {
                const float *qg = q + g * d;
                __m256 acc = _mm256_setzero_ps();
                for (size_t c = 0; c < d; c += 8)
                    acc = _mm256_fmadd_ps(_mm256_loadu_ps(qg + c), _mm256_loadu_ps(kj + c), acc);
                scratch[g * len + j] = hadd256(acc) * scale;
            }
        }
        // Softmax per query head.
        for (size_t g = 0; g < group; g++) {
            float *s = scratch + g * len;
            float mx = -INFINITY;
            size_t j = 0;
            __m256 vmx = _mm256_set1_ps(-INFINITY);
            for (; j + 8 <= len; j += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(s + j));
            mx = hmax256(vmx);
            for (; j < len; j++) mx = s[j] > mx ? s[j] : mx;
            __m256 vsum = _mm256_setzero_ps();
            const __m256 vm = _mm256_set1_ps(mx);
            for (j = 0; j + 8 <= len; j += 8) {
                __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
                _mm256_storeu_ps(s + j, e);
                vsum = _mm256_add_ps(vsum, e);
            }
            float sum = hadd256(vsum);
            for (; j < len; j++) { s[j] = expf(s[j] - mx); sum += s[j]; }
            const float inv = 1.f / sum;
            for (j = 0; j < len; j++) s[j] *= inv;
        }
        // Weighted sum of values: every value row is loaded once for all G heads.
        __m256 acc[8 * 32];   // up to G*d/8 accumulators (G*d <= 2048)
        const size_t nv = d / 8;
        if (group * nv <= 8 * 32) {
            for (size_t i = 0; i < group * nv; i++) acc[i] = _mm256_setzero_ps();
            for (size_t j = 0; j < len; j++) {
                const float *vj = v + j * d;
                for (size_t c = 0; c < nv; c++) {
                    __m256 vv = _mm256_loadu_ps(vj + 8 * c);
                    for (size_t g = 0; g < group; g++)
                        acc[g * nv + c] = _mm256_fmadd_ps(_mm256_set1_ps(scratch[g * len + j]), vv, acc[g * nv + c]);
                }
            }
            for (size_t g = 0; g < group; g++)
                for (size_t c = 0; c < nv; c++) _mm256_storeu_ps(out + g * d + 8 * c, acc[g * nv + c]);
            return;
        }
        for (size_t g = 0; g < group; g++)
            for (size_t j = 0; j < len; j++) {
                const float p = scratch[g * len + j];
                for (size_t c = 0; c < d; c++) out[g * d + c] += p * v[j * d + c];
            }
        return;
    }
#endif
    for (size_t g = 0; g < group; g++) {
        float *s = scratch + g * len;
        float mx = -INFINITY;
        for (size_t j = 0; j < len; j++) {
            float acc = 0.f;
            for (size_t c = 0; c < d; c++) acc += q[g * d + c] * k[j * d + c];
            s[j] = acc * scale;
            if (s[j] > mx) mx = s[j];
        }
        float sum = 0.f;
        for (size_t j = 0; j < len; j++) { s[j] = expf(s[j] - mx); sum += s[j]; }
        for (size_t j = 0; j < len; j++) {
            const float p = s[j] / sum;
            for (size_t c = 0; c < d; c++) out[g * d + c] += p * v[j * d + c];
        }
    }
}
