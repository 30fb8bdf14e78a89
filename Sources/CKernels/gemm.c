// f32 matrix product for prefill, C[m][n] (+)= A[m][k] · Wᵀ with W [n][k] pre-packed once at load.
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
#include "CKernels.h"

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

size_t fkv_gemm_packed_floats(size_t n, size_t k) { return (n + NR - 1) / NR * NR * k; }

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
    const float *a, *packed;
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
            const float *panel = g->packed + (col0 + j) / NR * g->k * NR;
            float s = 0.f;
            for (size_t p = 0; p < g->k; p++) s += a[p] * panel[p * NR + (col0 + j) % NR];
            c[j] = g->accumulate ? c[j] + s : s;
        }
    }
}

#if defined(FKV_X86)
// ---------------------------------------------------------------------------------------------
// AVX2: C[R][cols] (+)= A[R][kc] · B[kc][16] for one panel,
// cols ≤ 16 valid columns (masked loads/stores only at the ragged end of the last panel).
static inline __m256i lane_mask(size_t valid) {   // lanes < valid set
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)valid), idx);
}

#if defined(__clang__)
#define FKV_UNROLL4 _Pragma("unroll 4")
#else
#define FKV_UNROLL4 _Pragma("GCC unroll 4")
#endif

#define DEFINE_KERNEL_AVX2(R)                                                                              \
static void kernel_avx2_##R(const float *a, size_t lda, const float *b, size_t kc, float *c, size_t ldc,   \
                            int load_c, size_t cols) {                                                     \
    /* The block's sum starts from 0 and is added to C at the end (blocked summation: over k = 1536 */ \
    /* this halves the rounding error of one chain that starts from C). */                                \
    __m256 acc0[R], acc1[R];                                                                               \
    const __m256i m0 = lane_mask(cols), m1 = lane_mask(cols > 8 ? cols - 8 : 0);                           \
    for (int i = 0; i < R; i++) { acc0[i] = _mm256_setzero_ps(); acc1[i] = _mm256_setzero_ps(); }          \
    /* Two row pointers, so each broadcast address is base + {0, 1, 2}·lda (no per-step arithmetic). */   \
    const float *a0 = a, *a3 = a + 3 * lda;                                                                \
    FKV_UNROLL4                                                                                            \
    for (size_t p = 0; p < kc; p++, a0++, a3++, b += NR) {                                                 \
        const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);                                   \
        for (int i = 0; i < R; i++) {                                                                      \
            const __m256 ai = _mm256_broadcast_ss(i < 3 ? a0 + i * lda : a3 + (i - 3) * lda);              \
            acc0[i] = _mm256_fmadd_ps(ai, b0, acc0[i]);                                                    \
            acc1[i] = _mm256_fmadd_ps(ai, b1, acc1[i]);                                                    \
        }                                                                                                  \
    }                                                                                                      \
    for (int i = 0; i < R; i++) {                                                                          \
        if (cols == 16) {                                                                                  \
            if (load_c) {                                                                                  \
                acc0[i] = _mm256_add_ps(_mm256_loadu_ps(c + i * ldc), acc0[i]);                            \
                acc1[i] = _mm256_add_ps(_mm256_loadu_ps(c + i * ldc + 8), acc1[i]);                        \
            }                                                                                              \
            _mm256_storeu_ps(c + i * ldc, acc0[i]); _mm256_storeu_ps(c + i * ldc + 8, acc1[i]);            \
        } else {                                                                                           \
            if (load_c) {                                                                                  \
                acc0[i] = _mm256_add_ps(_mm256_maskload_ps(c + i * ldc, m0), acc0[i]);                     \
                acc1[i] = _mm256_add_ps(_mm256_maskload_ps(c + i * ldc + 8, m1), acc1[i]);                 \
            }                                                                                              \
            _mm256_maskstore_ps(c + i * ldc, m0, acc0[i]); _mm256_maskstore_ps(c + i * ldc + 8, m1, acc1[i]); \
        }                                                                                                  \
    }                                                                                                      \
}
DEFINE_KERNEL_AVX2(1)
DEFINE_KERNEL_AVX2(2)
DEFINE_KERNEL_AVX2(3)
DEFINE_KERNEL_AVX2(4)
DEFINE_KERNEL_AVX2(5)
DEFINE_KERNEL_AVX2(6)

static void gemm_task_avx2(void *ctx, size_t task, size_t worker) {
    (void)worker;
    const gemm_args *g = (const gemm_args *)ctx;
    size_t q, r0, r1;
    task_bounds(g, task, &q, &r0, &r1);
    const size_t col0 = q * NR * GROUP, cols = g->n - col0 < NR * GROUP ? g->n - col0 : NR * GROUP;
    // Equal k blocks of at most KC (k = 576 gives 3 × 192, not 256 + 256 + 64).
    const size_t kblocks = (g->k + KC - 1) / KC, kstep = (g->k + kblocks - 1) / kblocks;
    for (size_t k0 = 0; k0 < g->k; k0 += kstep) {
        const size_t kc = g->k - k0 < kstep ? g->k - k0 : kstep;
        const int load_c = k0 > 0 || g->accumulate;
        for (size_t s = 0; s * NR < cols; s++) {
            const size_t sc = cols - NR * s < NR ? cols - NR * s : NR;
            const float *b = g->packed + (q * GROUP + s) * g->k * NR + k0 * NR;
            for (size_t r = r0; r < r1; r += MR) {
                const float *a = g->a + r * g->lda + k0;
                float *c = g->c + r * g->ldc + col0 + NR * s;
                switch (r1 - r < MR ? r1 - r : MR) {
                case 6: kernel_avx2_6(a, g->lda, b, kc, c, g->ldc, load_c, sc); break;
                case 5: kernel_avx2_5(a, g->lda, b, kc, c, g->ldc, load_c, sc); break;
                case 4: kernel_avx2_4(a, g->lda, b, kc, c, g->ldc, load_c, sc); break;
                case 3: kernel_avx2_3(a, g->lda, b, kc, c, g->ldc, load_c, sc); break;
                case 2: kernel_avx2_2(a, g->lda, b, kc, c, g->ldc, load_c, sc); break;
                default: kernel_avx2_1(a, g->lda, b, kc, c, g->ldc, load_c, sc); break;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// AVX-512: C[R][64] (+)= A[R][kc] · [B0 B1 B2 B3][kc][64], Bj the rows of panel j of the group
// (16 floats apart), with masks for the last group's columns.
#define DEFINE_KERNEL(R)                                                                                   \
FKV_AVX512 static void kernel_##R(const float *a, size_t lda, const float *const b[4], size_t kc, float *c, \
                                  size_t ldc, int load_c, const __mmask16 mask[4]) {                       \
    __m512 acc[R][4];                                                                                      \
    for (int i = 0; i < R; i++)                                                                            \
        for (int j = 0; j < 4; j++)                                                                        \
            acc[i][j] = load_c ? _mm512_maskz_loadu_ps(mask[j], c + i * ldc + 16 * j) : _mm512_setzero_ps(); \
    for (size_t p = 0; p < kc; p++) {                                                                      \
        const __m512 b0 = _mm512_load_ps(b[0] + p * NR), b1 = _mm512_load_ps(b[1] + p * NR);               \
        const __m512 b2 = _mm512_load_ps(b[2] + p * NR), b3 = _mm512_load_ps(b[3] + p * NR);               \
        for (int i = 0; i < R; i++) {                                                                      \
            const __m512 ai = _mm512_set1_ps(a[i * lda + p]);                                              \
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);                                                \
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);                                                \
            acc[i][2] = _mm512_fmadd_ps(ai, b2, acc[i][2]);                                                \
            acc[i][3] = _mm512_fmadd_ps(ai, b3, acc[i][3]);                                                \
        }                                                                                                  \
    }                                                                                                      \
    for (int i = 0; i < R; i++)                                                                            \
        for (int j = 0; j < 4; j++) _mm512_mask_storeu_ps(c + i * ldc + 16 * j, mask[j], acc[i][j]);      \
}
DEFINE_KERNEL(1)
DEFINE_KERNEL(2)
DEFINE_KERNEL(3)
DEFINE_KERNEL(4)
DEFINE_KERNEL(5)
DEFINE_KERNEL(6)

FKV_AVX512 static void gemm_task_avx512(void *ctx, size_t task, size_t worker) {
    (void)worker;
    const gemm_args *g = (const gemm_args *)ctx;
    size_t q, r0, r1;
    task_bounds(g, task, &q, &r0, &r1);
    const size_t col0 = q * NR * GROUP, cols = g->n - col0 < NR * GROUP ? g->n - col0 : NR * GROUP;
    __mmask16 mask[4];
    for (int j = 0; j < 4; j++) {
        const size_t lo = 16 * (size_t)j;
        mask[j] = cols >= lo + 16 ? (__mmask16)0xffff : cols > lo ? (__mmask16)((1u << (cols - lo)) - 1) : 0;
    }
    // The group's panels; a group at the ragged end may have fewer than four: the missing ones
    // alias the last real panel (read, never stored: their mask is 0).
    const size_t last = (g->n + NR - 1) / NR - 1;
    const float *panel[4];
    for (size_t j = 0; j < 4; j++) {
        const size_t pj = q * GROUP + j <= last ? q * GROUP + j : last;
        panel[j] = g->packed + pj * g->k * NR;
    }
    for (size_t k0 = 0; k0 < g->k; k0 += KC) {
        const size_t kc = g->k - k0 < KC ? g->k - k0 : KC;
        const int load_c = k0 > 0 || g->accumulate;
        const float *const b[4] = {panel[0] + k0 * NR, panel[1] + k0 * NR, panel[2] + k0 * NR, panel[3] + k0 * NR};
        for (size_t r = r0; r < r1; r += MR) {
            const float *a = g->a + r * g->lda + k0;
            float *c = g->c + r * g->ldc + col0;
            switch (r1 - r < MR ? r1 - r : MR) {
            case 6: kernel_6(a, g->lda, b, kc, c, g->ldc, load_c, mask); break;
            case 5: kernel_5(a, g->lda, b, kc, c, g->ldc, load_c, mask); break;
            case 4: kernel_4(a, g->lda, b, kc, c, g->ldc, load_c, mask); break;
            case 3: kernel_3(a, g->lda, b, kc, c, g->ldc, load_c, mask); break;
            case 2: kernel_2(a, g->lda, b, kc, c, g->ldc, load_c, mask); break;
            default: kernel_1(a, g->lda, b, kc, c, g->ldc, load_c, mask); break;
            }
        }
    }
}
#endif

void fkv_gemm_packed(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *packed,
                     float *c, size_t ldc, int accumulate) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
        if (!accumulate) for (size_t i = 0; i < m; i++) memset(c + i * ldc, 0, n * sizeof(float));
        return;
    }
    gemm_args g = {
        .m = m, .n = n, .k = k, .lda = lda, .ldc = ldc, .panels = (n + NR * GROUP - 1) / (NR * GROUP),
        .row_blocks = (m + ROWS_PER_TASK - 1) / ROWS_PER_TASK, .a = a, .packed = packed, .c = c,
        .accumulate = accumulate,
    };
    fkv_task_fn task = gemm_task_scalar;
#if defined(FKV_X86)
    switch (fkv_kernel_path()) {
    case FKV_PATH_AVX512: task = gemm_task_avx512; break;
    case FKV_PATH_AVX2: task = gemm_task_avx2; break;
    case FKV_PATH_SCALAR: break;
    }
#endif
    fkv_parallel_for(g.panels * g.row_blocks, task, &g);
}
