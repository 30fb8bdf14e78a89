// Matrix product for prefill, C[m][n] (+)= A[m][k] · Wᵀ with W [n][k] pre-packed once at load.
//
// OpenBLAS repacks both operands on every call; at prefill shapes (k = 576…1536, a few hundred to a
// few thousand rows) that costs ~20 % of the time. Here W is packed once into panels of 16 output
// features, [k][16] each (zero padded); rows of A are read in place (one broadcast per row and
// step). Tasks are (group of four panels = 64 features, block of rows) pairs over the compute pool.
//
// One panel layout serves both vector paths:
// - AVX-512: a 6×64 block of C lives in 24 zmm registers; each k step loads one 64-byte row from
//   each of the group's four panels. On the Cascade Lake machine the kernel matched OpenBLAS's peak
//   per call (~85-100 GFLOP/s per thread) with 64-wide panels ([k][64]); the 16-wide layout gives
//   the same four loads per step from four streams instead of one (not re-measured: no AVX-512 here).
// - AVX2 (16 ymm registers): a 6×16 block of C in 12 ymm, the two B vectors and one broadcast of A
//   make 15. A panel's kc steps (kc×16 floats, 12-16 KiB) stay in L1 while the task's rows run over
//   it, and the task's rows of A (≤ 96 × kc floats) stay in L2 across its four panels: the BLIS loop
//   order with the weight panel packed once. Panels are 16 wide, not 64, for this kernel: a 16-float
//   slice of 64-wide rows is one cache line every 256 bytes, which maps to a quarter of L1's sets,
//   so the slice did not stay in L1 (about 8 % slower on the model's shapes on Zen 3).
// - scalar: plain loops over the same layout, the reference for tests.
// Panel element formats (fkv_panel): f32, or a compact form converted to f32 inside the
// micro-kernel as each k step's 16 weights are loaded: f16 (vcvtph2ps), bf16 (a 16-bit shift), and
// int8 with a per-(32 k, feature) f32 scale (q8_0; q8_1 adds a min). The compact forms hold exactly
// the values fkv_dequant_row gives for the stored format (q8_0 and q4_0 weights are q·d with q in
// int8, q4_1 ones are q·d + m, computed as a multiply then an add like the dequantiser), and the
// summation order is the f32 kernel's, so a compact panel gives the f32 panel's output bit for bit
// except where the q8 forms round a k block up to a multiple of 32 (none of the Llama shapes).
// Panel strides: f32 64·k bytes, f16/bf16 32·k, q8_0 18·k, q8_1 20·k (see gemm_pack.c).
#include "CKernels.h"
#include "half.h"

#include <stdlib.h>
#include <string.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define FKV_X86 1
#define FKV_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#endif

#define NR 16          // output features per panel
#define GROUP 4        // panels per task (64 features: one AVX-512 tile row, four AVX2 tiles)
#define MR 6           // rows of A per micro-kernel call
#define KC 256         // k per block (a panel's block is 16 KiB)
#define ROWS_PER_TASK 96
#define Q8_0_BLOCK 576 // bytes per (32 k × 16 features): 16 f32 scales, 32×16 int8
#define Q8_1_BLOCK 640 // the same plus 16 f32 mins after the scales

size_t fkv_gemm_packed_floats(size_t n, size_t k) { return (n + NR - 1) / NR * NR * k; }

size_t fkv_gemm_panel_stride(fkv_panel panel, size_t k) {
    switch (panel) {
    case FKV_PANEL_F32: return 64 * k;
    case FKV_PANEL_F16: case FKV_PANEL_BF16: return 32 * k;
    case FKV_PANEL_Q8_0: return k / 32 * Q8_0_BLOCK;
    case FKV_PANEL_Q8_1: return k / 32 * Q8_1_BLOCK;
    }
    return 0;
}

size_t fkv_gemm_panel_bytes(fkv_panel panel, size_t n, size_t k) {
    if ((panel == FKV_PANEL_Q8_0 || panel == FKV_PANEL_Q8_1) && k % 32 != 0) return 0;
    return (n + NR - 1) / NR * fkv_gemm_panel_stride(panel, k);
}

void fkv_gemm_pack(const float *w, size_t n, size_t k, float *packed) {
    const size_t panels = (n + NR - 1) / NR;
    for (size_t q = 0; q < panels; q++) {
        float *dst = packed + q * k * NR;
        for (size_t p = 0; p < k; p++)
            for (size_t j = 0; j < NR; j++) {
                const size_t row = q * NR + j;
                dst[p * NR + j] = row < n ? w[row * k + p] : 0.f;
            }
    }
}

typedef struct {
    size_t m, n, k, lda, ldc, panels, row_blocks;   // panels: groups of GROUP panels (64 features)
    size_t stride;                                  // bytes per 16-feature panel
    fkv_panel format;
    const float *a;
    const unsigned char *packed;
    float *c;
    int accumulate;
} gemm_args;

// Rows [r0, r1) and panel group q of a task. Consecutive tasks share the smaller operand's block
// in L2 and stream the other one: with the weights smaller than the activations (n ≤ m: the long
// prompts) a row block of A stays while the panel groups go by, so only the weights (a few MiB)
// have to stay in L3; otherwise a panel group stays while the row blocks go by.
static inline void task_bounds(const gemm_args *g, size_t task, size_t *q, size_t *r0, size_t *r1) {
    size_t rb;
    if (g->n <= g->m) { rb = task / g->panels; *q = task % g->panels; }
    else { *q = task / g->row_blocks; rb = task % g->row_blocks; }
    *r0 = rb * ROWS_PER_TASK;
    *r1 = *r0 + ROWS_PER_TASK < g->m ? *r0 + ROWS_PER_TASK : g->m;
}

// Byte offset of k step p inside a panel (p a multiple of 32 for the q8 forms when used as a base).
static inline size_t step_offset(fkv_panel f, size_t p) {
    switch (f) {
    case FKV_PANEL_F32: return p * 64;
    case FKV_PANEL_F16: case FKV_PANEL_BF16: return p * 32;
    case FKV_PANEL_Q8_0: return p / 32 * Q8_0_BLOCK;
    case FKV_PANEL_Q8_1: return p / 32 * Q8_1_BLOCK;
    }
    return 0;
}

static inline float half_to_float(uint16_t h) {   // IEEE binary16, portable (the scalar reference)
    return fkv_half_bits_to_float(h);
}

// Weight of feature j (0..15) at k step p of one panel, as the vector kernels compute it.
static inline float panel_value(fkv_panel f, const unsigned char *panel, size_t p, size_t j) {
    float v;
    uint16_t h;
    switch (f) {
    case FKV_PANEL_F32: memcpy(&v, panel + p * 64 + j * 4, 4); return v;
    case FKV_PANEL_F16: memcpy(&h, panel + p * 32 + j * 2, 2); return half_to_float(h);
    case FKV_PANEL_BF16: {
        memcpy(&h, panel + p * 32 + j * 2, 2);
        const uint32_t bits = (uint32_t)h << 16;
        memcpy(&v, &bits, 4); return v;
    }
    case FKV_PANEL_Q8_0: case FKV_PANEL_Q8_1: {
        const unsigned char *blk = panel + step_offset(f, p);
        const size_t qoff = f == FKV_PANEL_Q8_0 ? 64 : 128;
        float d;
        memcpy(&d, blk + j * 4, 4);
        v = (float)(int8_t)blk[qoff + (p % 32) * NR + j] * d;
        if (f == FKV_PANEL_Q8_1) { float m; memcpy(&m, blk + 64 + j * 4, 4); v = v + m; }
        return v;
    }
    }
    return 0.f;
}

// The reference: each output is Σ_p a·w in increasing p, in float (no FMA: -ffp-contract=off).
static void gemm_task_scalar(void *ctx, size_t task, size_t worker) {
    (void)worker;
    const gemm_args *g = (const gemm_args *)ctx;
    size_t q, r0, r1;
    task_bounds(g, task, &q, &r0, &r1);
    const size_t col0 = q * NR * GROUP, cols = g->n - col0 < NR * GROUP ? g->n - col0 : NR * GROUP;
    for (size_t r = r0; r < r1; r++) {
        const float *a = g->a + r * g->lda;
        float *c = g->c + r * g->ldc + col0;
        for (size_t j = 0; j < cols; j++) {
            const unsigned char *panel = g->packed + (col0 + j) / NR * g->stride;
            float s = 0.f;
            for (size_t p = 0; p < g->k; p++) s += a[p] * panel_value(g->format, panel, p, (col0 + j) % NR);
            c[j] = g->accumulate ? c[j] + s : s;
        }
    }
}

#if defined(FKV_X86)
// ---------------------------------------------------------------------------------------------
// Loading k step p (relative to the block base b) of a panel as f32: two ymm (features 0-7, 8-15)
// for AVX2, one zmm for AVX-512. The q8 forms multiply (and add) in separate instructions, like
// the dequantiser, so the values are the dequantised ones exactly.
#define LOAD_F32_2(b, p, lo, hi) do { const float *w_ = (const float *)(b) + (p) * NR;                      \
    lo = _mm256_load_ps(w_); hi = _mm256_load_ps(w_ + 8); } while (0)
#define LOAD_F16_2(b, p, lo, hi) do { const __m256i h_ = _mm256_loadu_si256((const __m256i *)((b) + (p) * 32)); \
    lo = _mm256_cvtph_ps(_mm256_castsi256_si128(h_)); hi = _mm256_cvtph_ps(_mm256_extracti128_si256(h_, 1)); } while (0)
#define LOAD_BF16_2(b, p, lo, hi) do { const __m128i *h_ = (const __m128i *)((b) + (p) * 32);              \
    lo = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(h_)), 16));            \
    hi = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(h_ + 1)), 16)); } while (0)
#define LOAD_Q8_2(b, p, lo, hi, BLOCK, QOFF) do { const unsigned char *k_ = (b) + ((p) >> 5) * BLOCK;      \
    const __m128i q_ = _mm_loadu_si128((const __m128i *)(k_ + QOFF + ((p) & 31) * NR));                     \
    lo = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q_)), _mm256_loadu_ps((const float *)k_));   \
    hi = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q_, 8))),                     \
                       _mm256_loadu_ps((const float *)k_ + 8));                                              \
    if (QOFF == 128) { lo = _mm256_add_ps(lo, _mm256_loadu_ps((const float *)(k_ + 64)));                   \
                       hi = _mm256_add_ps(hi, _mm256_loadu_ps((const float *)(k_ + 64) + 8)); } } while (0)
#define LOAD_Q8_0_2(b, p, lo, hi) LOAD_Q8_2(b, p, lo, hi, Q8_0_BLOCK, 64)
#define LOAD_Q8_1_2(b, p, lo, hi) LOAD_Q8_2(b, p, lo, hi, Q8_1_BLOCK, 128)

#define LOAD_F32_1(b, p, v) v = _mm512_load_ps((const float *)(b) + (p) * NR)
#define LOAD_F16_1(b, p, v) v = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((b) + (p) * 32)))
#define LOAD_BF16_1(b, p, v) v = _mm512_castsi512_ps(_mm512_slli_epi32(                                    \
    _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((b) + (p) * 32))), 16))
#define LOAD_Q8_1X(b, p, v, BLOCK, QOFF) do { const unsigned char *k_ = (b) + ((p) >> 5) * BLOCK;          \
    v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(                                               \
            _mm_loadu_si128((const __m128i *)(k_ + QOFF + ((p) & 31) * NR)))), _mm512_loadu_ps((const float *)k_)); \
    if (QOFF == 128) v = _mm512_add_ps(v, _mm512_loadu_ps((const float *)(k_ + 64))); } while (0)
#define LOAD_Q8_0_1(b, p, v) LOAD_Q8_1X(b, p, v, Q8_0_BLOCK, 64)
#define LOAD_Q8_1_1(b, p, v) LOAD_Q8_1X(b, p, v, Q8_1_BLOCK, 128)

// AVX2: C[R][cols] (+)= A[R][kc] · B[kc][16] for one panel,
// cols ≤ 16 valid columns (masked loads/stores only at the ragged end of the last panel).
static inline __m256i lane_mask(size_t valid) {   // lanes < valid set
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)valid), idx);
}

// C[0..valid) (+)= v for valid ≤ 8 lanes (masked only at a ragged end).
static inline void store8_avx2(float *c, __m256 v, size_t valid, int load_c) {
    if (valid >= 8) {
        if (load_c) v = _mm256_add_ps(_mm256_loadu_ps(c), v);
        _mm256_storeu_ps(c, v);
    } else if (valid > 0) {
        const __m256i m = lane_mask(valid);
        if (load_c) v = _mm256_add_ps(_mm256_maskload_ps(c, m), v);
        _mm256_maskstore_ps(c, m, v);
    }
}

#if defined(__clang__)
#define FKV_UNROLL4 _Pragma("unroll 4")
#else
#define FKV_UNROLL4 _Pragma("GCC unroll 4")
#endif

#define DEFINE_KERNEL_AVX2(F, R)                                                                           \
static void kernel_avx2_##F##_##R(const float *a, size_t lda, const unsigned char *b, size_t kc, float *c, \
                                  size_t ldc, int load_c, size_t cols) {                                   \
    /* The block's sum starts from 0 and is added to C at the end (blocked summation: over k = 1536 */ \
    /* this halves the rounding error of one chain that starts from C). */                                \
    __m256 acc0[R], acc1[R];                                                                               \
    for (int i = 0; i < R; i++) { acc0[i] = _mm256_setzero_ps(); acc1[i] = _mm256_setzero_ps(); }          \
    /* Two row pointers, so each broadcast address is base + {0, 1, 2}·lda (no per-step arithmetic). */   \
    const float *a0 = a, *a3 = a + 3 * lda;                                                                \
    FKV_UNROLL4                                                                                            \
    for (size_t p = 0; p < kc; p++, a0++, a3++) {                                                          \
        __m256 b0, b1;                                                                                     \
        LOAD_##F##_2(b, p, b0, b1);                                                                        \
        for (int i = 0; i < R; i++) {                                                                      \
            const __m256 ai = _mm256_broadcast_ss(i < 3 ? a0 + i * lda : a3 + (i - 3) * lda);              \
            acc0[i] = _mm256_fmadd_ps(ai, b0, acc0[i]);                                                    \
            acc1[i] = _mm256_fmadd_ps(ai, b1, acc1[i]);                                                    \
        }                                                                                                  \
    }                                                                                                      \
    for (int i = 0; i < R; i++) {                                                                          \
        store8_avx2(c + i * ldc, acc0[i], cols, load_c);                                                   \
        store8_avx2(c + i * ldc + 8, acc1[i], cols > 8 ? cols - 8 : 0, load_c);                            \
    }                                                                                                      \
}

// AVX-512: C[R][64] (+)= A[R][kc] · [B0 B1 B2 B3][kc][64], Bj the rows of panel j of the group,
// with masks for the last group's columns.
#define DEFINE_KERNEL_AVX512(F, R)                                                                         \
FKV_AVX512 static void kernel_avx512_##F##_##R(const float *a, size_t lda, const unsigned char *const b[4], \
                                               size_t kc, float *c, size_t ldc, int load_c,                \
                                               const __mmask16 mask[4]) {                                  \
    /* Blocked summation, as the AVX2 kernel: the block's sum starts from 0 and is added to C at the */ \
    /* end, so both paths round alike (and meet the fixtures' tolerances). */                             \
    __m512 acc[R][4];                                                                                      \
    for (int i = 0; i < R; i++)                                                                            \
        for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps();                                       \
    for (size_t p = 0; p < kc; p++) {                                                                      \
        __m512 b0, b1, b2, b3;                                                                             \
        LOAD_##F##_1(b[0], p, b0); LOAD_##F##_1(b[1], p, b1);                                              \
        LOAD_##F##_1(b[2], p, b2); LOAD_##F##_1(b[3], p, b3);                                              \
        for (int i = 0; i < R; i++) {                                                                      \
            const __m512 ai = _mm512_set1_ps(a[i * lda + p]);                                              \
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);                                                \
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);                                                \
            acc[i][2] = _mm512_fmadd_ps(ai, b2, acc[i][2]);                                                \
            acc[i][3] = _mm512_fmadd_ps(ai, b3, acc[i][3]);                                                \
        }                                                                                                  \
    }                                                                                                      \
    for (int i = 0; i < R; i++)                                                                            \
        for (int j = 0; j < 4; j++) {                                                                      \
            if (load_c) acc[i][j] = _mm512_add_ps(_mm512_maskz_loadu_ps(mask[j], c + i * ldc + 16 * j), acc[i][j]); \
            _mm512_mask_storeu_ps(c + i * ldc + 16 * j, mask[j], acc[i][j]);                               \
        }                                                                                                  \
}

// One micro-kernel per (panel format, rows 1..6), and the task loops that pick among them.
#define DEFINE_FORMAT(F)                                                                                   \
DEFINE_KERNEL_AVX2(F, 1) DEFINE_KERNEL_AVX2(F, 2) DEFINE_KERNEL_AVX2(F, 3)                                 \
DEFINE_KERNEL_AVX2(F, 4) DEFINE_KERNEL_AVX2(F, 5) DEFINE_KERNEL_AVX2(F, 6)                                 \
DEFINE_KERNEL_AVX512(F, 1) DEFINE_KERNEL_AVX512(F, 2) DEFINE_KERNEL_AVX512(F, 3)                           \
DEFINE_KERNEL_AVX512(F, 4) DEFINE_KERNEL_AVX512(F, 5) DEFINE_KERNEL_AVX512(F, 6)                           \
static void gemm_task_avx2_##F(void *ctx, size_t task, size_t worker) {                                    \
    (void)worker;                                                                                          \
    const gemm_args *g = (const gemm_args *)ctx;                                                           \
    size_t q, r0, r1;                                                                                      \
    task_bounds(g, task, &q, &r0, &r1);                                                                    \
    const size_t col0 = q * NR * GROUP, cols = g->n - col0 < NR * GROUP ? g->n - col0 : NR * GROUP;        \
    /* Equal k blocks of at most KC (k = 576 gives 3 × 192, not 256 + 256 + 64); the q8 forms need */     \
    /* blocks of whole 32-step scale blocks. */                                                            \
    const size_t kblocks = (g->k + KC - 1) / KC;                                                           \
    size_t kstep = (g->k + kblocks - 1) / kblocks;                                                         \
    if (g->format == FKV_PANEL_Q8_0 || g->format == FKV_PANEL_Q8_1) kstep = (kstep + 31) / 32 * 32;        \
    for (size_t k0 = 0; k0 < g->k; k0 += kstep) {                                                          \
        const size_t kc = g->k - k0 < kstep ? g->k - k0 : kstep;                                           \
        const int load_c = k0 > 0 || g->accumulate;                                                        \
        for (size_t s = 0; s * NR < cols; s++) {                                                           \
            const size_t sc = cols - NR * s < NR ? cols - NR * s : NR;                                     \
            const unsigned char *b = g->packed + (q * GROUP + s) * g->stride + step_offset(g->format, k0); \
            for (size_t r = r0; r < r1; r += MR) {                                                         \
                const float *a = g->a + r * g->lda + k0;                                                   \
                float *c = g->c + r * g->ldc + col0 + NR * s;                                              \
                switch (r1 - r < MR ? r1 - r : MR) {                                                       \
                case 6: kernel_avx2_##F##_6(a, g->lda, b, kc, c, g->ldc, load_c, sc); break;               \
                case 5: kernel_avx2_##F##_5(a, g->lda, b, kc, c, g->ldc, load_c, sc); break;               \
                case 4: kernel_avx2_##F##_4(a, g->lda, b, kc, c, g->ldc, load_c, sc); break;               \
                case 3: kernel_avx2_##F##_3(a, g->lda, b, kc, c, g->ldc, load_c, sc); break;               \
                case 2: kernel_avx2_##F##_2(a, g->lda, b, kc, c, g->ldc, load_c, sc); break;               \
                default: kernel_avx2_##F##_1(a, g->lda, b, kc, c, g->ldc, load_c, sc); break;              \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
    }                                                                                                      \
}                                                                                                          \
FKV_AVX512 static void gemm_task_avx512_##F(void *ctx, size_t task, size_t worker) {                       \
    (void)worker;                                                                                          \
    const gemm_args *g = (const gemm_args *)ctx;                                                           \
    size_t q, r0, r1;                                                                                      \
    task_bounds(g, task, &q, &r0, &r1);                                                                    \
    const size_t col0 = q * NR * GROUP, cols = g->n - col0 < NR * GROUP ? g->n - col0 : NR * GROUP;        \
    __mmask16 mask[4];                                                                                     \
    for (int j = 0; j < 4; j++) {                                                                          \
        const size_t lo = 16 * (size_t)j;                                                                  \
        mask[j] = cols >= lo + 16 ? (__mmask16)0xffff : cols > lo ? (__mmask16)((1u << (cols - lo)) - 1) : 0; \
    }                                                                                                      \
    /* A group at the ragged end may have fewer than four panels: the missing ones alias the last */      \
    /* real panel (read, never stored: their mask is 0). */                                                \
    const size_t last = (g->n + NR - 1) / NR - 1;                                                          \
    const unsigned char *panel[4];                                                                         \
    for (size_t j = 0; j < 4; j++) {                                                                       \
        const size_t pj = q * GROUP + j <= last ? q * GROUP + j : last;                                    \
        panel[j] = g->packed + pj * g->stride;                                                             \
    }                                                                                                      \
    /* The same k blocks as the AVX2 path (equal blocks of at most KC, whole scale blocks for q8). */    \
    const size_t kblocks = (g->k + KC - 1) / KC;                                                           \
    size_t kstep = (g->k + kblocks - 1) / kblocks;                                                         \
    if (g->format == FKV_PANEL_Q8_0 || g->format == FKV_PANEL_Q8_1) kstep = (kstep + 31) / 32 * 32;        \
    for (size_t k0 = 0; k0 < g->k; k0 += kstep) {                                                          \
        const size_t kc = g->k - k0 < kstep ? g->k - k0 : kstep, o = step_offset(g->format, k0);           \
        const int load_c = k0 > 0 || g->accumulate;                                                        \
        const unsigned char *const b[4] = {panel[0] + o, panel[1] + o, panel[2] + o, panel[3] + o};        \
        for (size_t r = r0; r < r1; r += MR) {                                                             \
            const float *a = g->a + r * g->lda + k0;                                                       \
            float *c = g->c + r * g->ldc + col0;                                                           \
            switch (r1 - r < MR ? r1 - r : MR) {                                                           \
            case 6: kernel_avx512_##F##_6(a, g->lda, b, kc, c, g->ldc, load_c, mask); break;               \
            case 5: kernel_avx512_##F##_5(a, g->lda, b, kc, c, g->ldc, load_c, mask); break;               \
            case 4: kernel_avx512_##F##_4(a, g->lda, b, kc, c, g->ldc, load_c, mask); break;               \
            case 3: kernel_avx512_##F##_3(a, g->lda, b, kc, c, g->ldc, load_c, mask); break;               \
            case 2: kernel_avx512_##F##_2(a, g->lda, b, kc, c, g->ldc, load_c, mask); break;               \
            default: kernel_avx512_##F##_1(a, g->lda, b, kc, c, g->ldc, load_c, mask); break;              \
            }                                                                                              \
        }                                                                                                  \
    }                                                                                                      \
}
DEFINE_FORMAT(F32)
DEFINE_FORMAT(F16)
DEFINE_FORMAT(BF16)
DEFINE_FORMAT(Q8_0)
DEFINE_FORMAT(Q8_1)

// ---------------------------------------------------------------------------------------------
// Small m (decode: one row per sequence of the batch) over the same panels, fkv_gemv_panels.
// The GEMM's loop order re-reads A for each panel group and blocks k so a panel block stays in
// L1 while its rows run; with m ≤ 8 there is nothing to reuse, so these kernels stream each panel
// once from start to end with one accumulator per (input row, 16 features) and convert each k
// step's 16 weights exactly as the GEMM does. A task is GEMV_PANELS consecutive panels; the
// AVX-512 kernel walks all four at once for up to 4 rows (four FMA chains per row, so m = 1 is
// not bound by the FMA latency) and two at a time for 5 to 8 rows (registers). The AVX2 one walks
// two at once for one or two rows (four chains of 8), else one (its two halves are the two
// chains) with at most 4 rows at once and k in blocks of KC when m > 4, so the second group of
// rows finds the panel block in L1.
#define GEMV_PANELS 4
#define GEMV_AVX2_ROWS 4

#define DEFINE_GEMV_AVX512(F, R)                                                                           \
FKV_AVX512 static void gemv_avx512_##F##_##R(const float *a, size_t lda, const unsigned char *b0,         \
                                             const unsigned char *b1, size_t k, float *c, size_t ldc,      \
                                             int load_c, __mmask16 m0, __mmask16 m1) {                     \
    __m512 acc0[R], acc1[R];                                                                               \
    for (int i = 0; i < R; i++) { acc0[i] = _mm512_setzero_ps(); acc1[i] = _mm512_setzero_ps(); }          \
    for (size_t p = 0; p < k; p++) {                                                                       \
        __m512 w0, w1;                                                                                     \
        LOAD_##F##_1(b0, p, w0); LOAD_##F##_1(b1, p, w1);                                                  \
        for (int i = 0; i < R; i++) {                                                                      \
            const __m512 ai = _mm512_set1_ps(a[i * lda + p]);                                              \
            acc0[i] = _mm512_fmadd_ps(ai, w0, acc0[i]);                                                    \
            acc1[i] = _mm512_fmadd_ps(ai, w1, acc1[i]);                                                    \
        }                                                                                                  \
    }                                                                                                      \
    for (int i = 0; i < R; i++) {                                                                          \
        if (load_c) {                                                                                      \
            acc0[i] = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c + i * ldc), acc0[i]);                      \
            acc1[i] = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + i * ldc + 16), acc1[i]);                 \
        }                                                                                                  \
        _mm512_mask_storeu_ps(c + i * ldc, m0, acc0[i]);                                                   \
        _mm512_mask_storeu_ps(c + i * ldc + 16, m1, acc1[i]);                                              \
    }                                                                                                      \
}

// AVX2, one or two rows: two panels at once (four FMA chains per row, as the AVX-512 kernel's four).
#define DEFINE_GEMV2_AVX2(F, R)                                                                            \
static void gemv2_avx2_##F##_##R(const float *a, size_t lda, const unsigned char *b0, const unsigned char *b1, \
                                 size_t k, float *c, size_t ldc, int load_c, size_t cols0, size_t cols1) { \
    __m256 acc[R][4];                                                                                      \
    for (int i = 0; i < R; i++)                                                                            \
        for (int j = 0; j < 4; j++) acc[i][j] = _mm256_setzero_ps();                                       \
    for (size_t p = 0; p < k; p++) {                                                                       \
        __m256 w0, w1, w2, w3;                                                                             \
        LOAD_##F##_2(b0, p, w0, w1); LOAD_##F##_2(b1, p, w2, w3);                                          \
        for (int i = 0; i < R; i++) {                                                                      \
            const __m256 ai = _mm256_broadcast_ss(a + i * lda + p);                                        \
            acc[i][0] = _mm256_fmadd_ps(ai, w0, acc[i][0]);                                                \
            acc[i][1] = _mm256_fmadd_ps(ai, w1, acc[i][1]);                                                \
            acc[i][2] = _mm256_fmadd_ps(ai, w2, acc[i][2]);                                                \
            acc[i][3] = _mm256_fmadd_ps(ai, w3, acc[i][3]);                                                \
        }                                                                                                  \
    }                                                                                                      \
    for (int i = 0; i < R; i++) {                                                                          \
        float *ci = c + i * ldc;                                                                           \
        store8_avx2(ci, acc[i][0], cols0, load_c);                                                         \
        store8_avx2(ci + 8, acc[i][1], cols0 > 8 ? cols0 - 8 : 0, load_c);                                 \
        store8_avx2(ci + 16, acc[i][2], cols1, load_c);                                                    \
        store8_avx2(ci + 24, acc[i][3], cols1 > 8 ? cols1 - 8 : 0, load_c);                                \
    }                                                                                                      \
}

#define DEFINE_GEMV_FORMAT(F)                                                                              \
DEFINE_GEMV2_AVX2(F, 1) DEFINE_GEMV2_AVX2(F, 2)                                                            \
DEFINE_GEMV_AVX512(F, 5) DEFINE_GEMV_AVX512(F, 6) DEFINE_GEMV_AVX512(F, 7) DEFINE_GEMV_AVX512(F, 8)       \
FKV_AVX512 static void gemv_task_avx512_##F(void *ctx, size_t task, size_t worker) {                       \
    (void)worker;                                                                                          \
    const gemm_args *g = (const gemm_args *)ctx;                                                           \
    const size_t count = (g->n + NR - 1) / NR, first = task * GEMV_PANELS;                                 \
    const size_t end = first + GEMV_PANELS < count ? first + GEMV_PANELS : count;                          \
    if (g->m <= 4) {                                                                                       \
        /* The GEMM's 4-panel micro-kernel over all of k: four FMA chains per row, so one row is not */   \
        /* bound by the FMA latency. Missing panels of the last task alias the first (masked off). */      \
        const unsigned char *b[4];                                                                         \
        __mmask16 mask[4];                                                                                 \
        for (size_t j = 0; j < 4; j++) {                                                                   \
            const size_t q = first + j, col0 = q * NR;                                                     \
            b[j] = g->packed + (q < end ? q : first) * g->stride;                                          \
            mask[j] = q >= end ? (__mmask16)0 : g->n - col0 >= NR ? (__mmask16)0xffff                      \
                                                 : (__mmask16)((1u << (g->n - col0)) - 1);                 \
        }                                                                                                  \
        float *c = g->c + first * NR;                                                                      \
        switch (g->m) {                                                                                    \
        case 4: kernel_avx512_##F##_4(g->a, g->lda, b, g->k, c, g->ldc, g->accumulate, mask); break;       \
        case 3: kernel_avx512_##F##_3(g->a, g->lda, b, g->k, c, g->ldc, g->accumulate, mask); break;       \
        case 2: kernel_avx512_##F##_2(g->a, g->lda, b, g->k, c, g->ldc, g->accumulate, mask); break;       \
        default: kernel_avx512_##F##_1(g->a, g->lda, b, g->k, c, g->ldc, g->accumulate, mask); break;      \
        }                                                                                                  \
        return;                                                                                            \
    }                                                                                                      \
    for (size_t q = first; q < end; q += 2) {                                                              \
        /* The second panel of the last pair may not exist: it aliases the first (read, masked off). */   \
        const int pair = q + 1 < end;                                                                      \
        const size_t col0 = q * NR, cols = g->n - col0 < 2 * NR ? g->n - col0 : 2 * NR;                    \
        const __mmask16 m0 = cols >= NR ? (__mmask16)0xffff : (__mmask16)((1u << cols) - 1);               \
        const __mmask16 m1 = !pair ? 0 : cols >= 2 * NR ? (__mmask16)0xffff                                \
                                       : (__mmask16)((1u << (cols - NR)) - 1);                             \
        const unsigned char *b0 = g->packed + q * g->stride, *b1 = pair ? b0 + g->stride : b0;             \
        float *c = g->c + col0;                                                                            \
        switch (g->m) {                                                                                    \
        case 8: gemv_avx512_##F##_8(g->a, g->lda, b0, b1, g->k, c, g->ldc, g->accumulate, m0, m1); break;  \
        case 7: gemv_avx512_##F##_7(g->a, g->lda, b0, b1, g->k, c, g->ldc, g->accumulate, m0, m1); break;  \
        case 6: gemv_avx512_##F##_6(g->a, g->lda, b0, b1, g->k, c, g->ldc, g->accumulate, m0, m1); break;  \
        default: gemv_avx512_##F##_5(g->a, g->lda, b0, b1, g->k, c, g->ldc, g->accumulate, m0, m1); break; \
        }                                                                                                  \
    }                                                                                                      \
}                                                                                                          \
static void gemv_task_avx2_##F(void *ctx, size_t task, size_t worker) {                                    \
    (void)worker;                                                                                          \
    const gemm_args *g = (const gemm_args *)ctx;                                                           \
    const size_t count = (g->n + NR - 1) / NR, first = task * GEMV_PANELS;                                 \
    const size_t end = first + GEMV_PANELS < count ? first + GEMV_PANELS : count;                          \
    if (g->m <= 2) {                                                                                       \
        for (size_t q = first; q < end; q += 2) {                                                          \
            /* The second panel of the last pair may not exist: it aliases the first (not stored). */     \
            const int pair = q + 1 < end;                                                                  \
            const size_t col0 = q * NR, cols0 = g->n - col0 < NR ? g->n - col0 : NR;                       \
            const size_t cols1 = !pair ? 0 : g->n - col0 - NR < NR ? g->n - col0 - NR : NR;                \
            const unsigned char *b0 = g->packed + q * g->stride, *b1 = pair ? b0 + g->stride : b0;         \
            if (g->m == 2) gemv2_avx2_##F##_2(g->a, g->lda, b0, b1, g->k, g->c + col0, g->ldc, g->accumulate, cols0, cols1); \
            else gemv2_avx2_##F##_1(g->a, g->lda, b0, b1, g->k, g->c + col0, g->ldc, g->accumulate, cols0, cols1); \
        }                                                                                                  \
        return;                                                                                            \
    }                                                                                                      \
    /* One pass over k when all rows fit one call, else k blocks of whole scale blocks (as the GEMM). */ \
    size_t kstep = g->k;                                                                                   \
    if (g->m > GEMV_AVX2_ROWS) {                                                                           \
        const size_t kblocks = (g->k + KC - 1) / KC;                                                       \
        kstep = (g->k + kblocks - 1) / kblocks;                                                            \
        if (g->format == FKV_PANEL_Q8_0 || g->format == FKV_PANEL_Q8_1) kstep = (kstep + 31) / 32 * 32;    \
    }                                                                                                      \
    for (size_t q = first; q < end; q++) {                                                                 \
        const size_t col0 = q * NR, cols = g->n - col0 < NR ? g->n - col0 : NR;                            \
        for (size_t k0 = 0; k0 < g->k; k0 += kstep) {                                                      \
            const size_t kc = g->k - k0 < kstep ? g->k - k0 : kstep;                                       \
            const int load_c = k0 > 0 || g->accumulate;                                                    \
            const unsigned char *b = g->packed + q * g->stride + step_offset(g->format, k0);               \
            for (size_t r = 0; r < g->m; r += GEMV_AVX2_ROWS) {                                            \
                const float *a = g->a + r * g->lda + k0;                                                   \
                float *c = g->c + r * g->ldc + col0;                                                       \
                switch (g->m - r < GEMV_AVX2_ROWS ? g->m - r : GEMV_AVX2_ROWS) {                           \
                case 4: kernel_avx2_##F##_4(a, g->lda, b, kc, c, g->ldc, load_c, cols); break;             \
                case 3: kernel_avx2_##F##_3(a, g->lda, b, kc, c, g->ldc, load_c, cols); break;             \
                case 2: kernel_avx2_##F##_2(a, g->lda, b, kc, c, g->ldc, load_c, cols); break;             \
                default: kernel_avx2_##F##_1(a, g->lda, b, kc, c, g->ldc, load_c, cols); break;            \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
    }                                                                                                      \
}
DEFINE_GEMV_FORMAT(F32)
DEFINE_GEMV_FORMAT(F16)
DEFINE_GEMV_FORMAT(BF16)
DEFINE_GEMV_FORMAT(Q8_0)
DEFINE_GEMV_FORMAT(Q8_1)
#endif

void fkv_gemm_compact(fkv_panel format, size_t m, size_t n, size_t k, const float *a, size_t lda,
                      const void *packed, float *c, size_t ldc, int accumulate) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
        if (!accumulate) for (size_t i = 0; i < m; i++) memset(c + i * ldc, 0, n * sizeof(float));
        return;
    }
    gemm_args g = {
        .m = m, .n = n, .k = k, .lda = lda, .ldc = ldc, .panels = (n + NR * GROUP - 1) / (NR * GROUP),
        .row_blocks = (m + ROWS_PER_TASK - 1) / ROWS_PER_TASK, .stride = fkv_gemm_panel_stride(format, k),
        .format = format, .a = a, .packed = (const unsigned char *)packed, .c = c, .accumulate = accumulate,
    };
    fkv_task_fn task = gemm_task_scalar;
#if defined(FKV_X86)
    static const fkv_task_fn avx2[] = {gemm_task_avx2_F32, gemm_task_avx2_F16, gemm_task_avx2_BF16,
                                       gemm_task_avx2_Q8_0, gemm_task_avx2_Q8_1};
    static const fkv_task_fn avx512[] = {gemm_task_avx512_F32, gemm_task_avx512_F16, gemm_task_avx512_BF16,
                                         gemm_task_avx512_Q8_0, gemm_task_avx512_Q8_1};
    switch (fkv_kernel_path()) {
    case FKV_PATH_AVX512: task = avx512[format]; break;
    case FKV_PATH_AVX2: task = avx2[format]; break;
    case FKV_PATH_SCALAR: break;
    }
#endif
    fkv_parallel_for(g.panels * g.row_blocks, task, &g);
}

void fkv_gemm_packed(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *packed,
                     float *c, size_t ldc, int accumulate) {
    fkv_gemm_compact(FKV_PANEL_F32, m, n, k, a, lda, packed, c, ldc, accumulate);
}

void fkv_gemv_panels(fkv_panel format, size_t m, size_t n, size_t k, const float *a, size_t lda,
                     const void *packed, float *c, size_t ldc, int accumulate) {
    if (m == 0 || n == 0) return;
    // Beyond the bound (or on the scalar path, whose reference loops are the GEMM's) the GEMM runs.
    if (k == 0 || m > FKV_GEMV_MAX_ROWS || fkv_kernel_path() == FKV_PATH_SCALAR) {
        fkv_gemm_compact(format, m, n, k, a, lda, packed, c, ldc, accumulate);
        return;
    }
#if defined(FKV_X86)
    gemm_args g = {
        .m = m, .n = n, .k = k, .lda = lda, .ldc = ldc, .panels = 0, .row_blocks = 1,
        .stride = fkv_gemm_panel_stride(format, k), .format = format, .a = a,
        .packed = (const unsigned char *)packed, .c = c, .accumulate = accumulate,
    };
    static const fkv_task_fn avx2[] = {gemv_task_avx2_F32, gemv_task_avx2_F16, gemv_task_avx2_BF16,
                                       gemv_task_avx2_Q8_0, gemv_task_avx2_Q8_1};
    static const fkv_task_fn avx512[] = {gemv_task_avx512_F32, gemv_task_avx512_F16, gemv_task_avx512_BF16,
                                         gemv_task_avx512_Q8_0, gemv_task_avx512_Q8_1};
    const fkv_task_fn task = fkv_kernel_path() == FKV_PATH_AVX512 ? avx512[format] : avx2[format];
    fkv_parallel_for(((n + NR - 1) / NR + GEMV_PANELS - 1) / GEMV_PANELS, task, &g);
#else
    fkv_gemm_compact(format, m, n, k, a, lda, packed, c, ldc, accumulate);
#endif
}
