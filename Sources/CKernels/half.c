// Bulk f32 ⇄ IEEE binary16 conversion for the f16 KV cache (entries enter it as f32 from prefill,
// decode and the wire, and leave it as f32 for the wire and copies). AVX-512: 16 per vcvtps2ph /
// vcvtph2ps; AVX2+F16C: 8; scalar: half.h, which gives the same bits (round to nearest even).
#include "CKernels.h"
#include "half.h"
#include "vec_math.h"

#if defined(FKV_X86)
FKV_AVX512 static void to_half_avx512(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++) dst[i] = fkv_float_to_half_bits(src[i]);
}

static void to_half_avx2(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++) dst[i] = fkv_float_to_half_bits(src[i]);
}

FKV_AVX512 static void from_half_avx512(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
    for (; i < n; i++) dst[i] = fkv_half_bits_to_float(src[i]);
}

static void from_half_avx2(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = fkv_half_bits_to_float(src[i]);
}
#endif

void fkv_f32_to_f16(const float *src, uint16_t *dst, size_t n) {
#if defined(FKV_X86)
    switch (fkv_kernel_path()) {
    case FKV_PATH_AVX512: to_half_avx512(src, dst, n); return;
    case FKV_PATH_AVX2: to_half_avx2(src, dst, n); return;
    case FKV_PATH_SCALAR: break;
    }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = fkv_float_to_half_bits(src[i]);
}

void fkv_f16_to_f32(const uint16_t *src, float *dst, size_t n) {
#if defined(FKV_X86)
    switch (fkv_kernel_path()) {
    case FKV_PATH_AVX512: from_half_avx512(src, dst, n); return;
    case FKV_PATH_AVX2: from_half_avx2(src, dst, n); return;
    case FKV_PATH_SCALAR: break;
    }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = fkv_half_bits_to_float(src[i]);
}
