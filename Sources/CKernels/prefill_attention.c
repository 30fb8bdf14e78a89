// Causal grouped-query attention for prefill, flash-style (FlashAttention, arXiv 2205.14135, §3.1,
// on a CPU): no N×N (or G·T×N) score matrix is ever stored.
//
// A task is one (KV head, query block of FKV_PREFILL_BLOCK tokens). Its G query heads are stacked
// into one tile of G·nq rows (row g·nq + t = query head kv·G + g, token i0 + t), so every key and
// value block it loads serves all G heads (GQA). The task walks the key blocks 0 … i0 (blocks past
// the diagonal are fully masked by causality and never touched) and keeps, per row, a running max
// m and sum l of the softmax: a block that raises the max rescales the row's accumulated output and
// sum by e^{m_old − m_new}, so the result is softmax(QKᵀ·scale)·V exactly, up to rounding. Query
// and key blocks have the same size and start at multiples of it, so the only partly masked block of
// a task is its diagonal one, and there every row has at least its own key: no row is ever empty.
//
// Per key block: Kᵀ and V are copied into the worker's scratch (Kᵀ [d][64] so the score kernel
// reads 16 or 64 keys of one feature with one load; V [nk][d] contiguous), S = Q·Kᵀ as a
// register-blocked 6-row GEMM tile, the online softmax per row, then O = α⊙O + P·V as another
// 6-row tile. Scratch per worker is a few blocks (Q, O, P of the tile, Kᵀ and V of one key block),
// independent of N: 3·64·64·4 B ·3 + 2·16 KiB ≈ 180 KiB for G = 3, d = 64, which stays in L2.
//
// Tasks are handed out largest first (the last query block sees the most keys), and the pool's
// claiming gives each free core the next largest: the causal triangle balances over the cores.
//
// Paths (chosen once per call, in the calling thread): scalar C (the reference), AVX2+FMA (6×16
// tiles in 12 ymm accumulators), AVX-512 (6×64 tiles in 24 zmm accumulators, compiled with target
// attributes; CKernelsTests run it where the CPU has AVX-512, scripts/check-avx512-emulated.sh
// checks it under emulation where it does not).
#include "CKernels.h"
#include "vec_math.h"

#include <math.h>
#include <string.h>

#define BLOCK FKV_PREFILL_BLOCK   // query and key block, tokens
#define MR 6                      // rows of the tile per micro-kernel call

static inline size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }
static inline size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/// Per-worker scratch, carved from one float buffer; every part starts on a 64-byte boundary.
typedef struct {
    float *q;       // [rp][d]  the tile's queries, pre-scaled
    float *o;       // [rp][d]  unnormalised outputs
    float *p;       // [rp][BLOCK] scores, then probabilities
    float *kt;      // [d][BLOCK] the key block, transposed, zero padded
    float *v;       // [BLOCK][d] the value block
    float *m, *l, *alpha;   // [rp] running max, running sum, this block's rescale factor
} tile_scratch;

static size_t tile_rows(size_t group) { return round_up(group * BLOCK, MR); }

size_t fkv_prefill_attention_scratch_floats(size_t group, size_t d) {
    const size_t rp = tile_rows(group);
    return 2 * round_up(rp * d, 16) + round_up(rp * BLOCK, 16) + 2 * round_up(BLOCK * d, 16) + 3 * round_up(rp, 16);
}

static tile_scratch carve(float *base, size_t group, size_t d) {
    const size_t rp = tile_rows(group);
    tile_scratch s;
    s.q = base;              base += round_up(rp * d, 16);
    s.o = base;              base += round_up(rp * d, 16);
    s.p = base;              base += round_up(rp * BLOCK, 16);
    s.kt = base;             base += round_up(BLOCK * d, 16);
    s.v = base;              base += round_up(BLOCK * d, 16);
    s.m = base;              base += round_up(rp, 16);
    s.l = base;              base += round_up(rp, 16);
    s.alpha = base;
    return s;
}

/// The inner kernels of one path.
typedef struct {
    // kt[c][j] = kb[j·ldk + c] for j < nk, c < d; kt[c][j] = 0 for nk ≤ j < BLOCK (the key block,
    // transposed and zero padded, so the score kernel reads 16 or 64 keys of a feature at once).
    void (*keys_transposed)(float *kt, const float *kb, size_t ldk, size_t nk, size_t d);
    // p[r][j] = q[r]·kt[·][j] for r < rp (a multiple of MR), j < BLOCK.
    void (*scores)(const float *q, size_t rp, size_t d, const float *kt, float *p);
    // Online softmax of one row: s[0..valid) are scores (valid ≥ 1), s[valid..BLOCK) become 0.
    // Updates *m, *l and returns the rescale factor of the row's previous output.
    float (*softmax_row)(float *s, size_t valid, float *m, float *l);
    // o[r] = alpha[r]·o[r] + Σ_{j<nk} p[r][j]·v[j] for r < rp.
    void (*pv)(float *o, size_t rp, size_t d, const float *p, const float *v, size_t nk, const float *alpha);
} tile_kernels;

// ---------------------------------------------------------------------------------------------
// Scalar reference.

static void scores_scalar(const float *q, size_t rp, size_t d, const float *kt, float *p) {
    for (size_t r = 0; r < rp; r++)
        for (size_t j = 0; j < BLOCK; j++) {
            float acc = 0.f;
            for (size_t c = 0; c < d; c++) acc += q[r * d + c] * kt[c * BLOCK + j];
            p[r * BLOCK + j] = acc;
        }
}

static float softmax_row_scalar(float *s, size_t valid, float *m, float *l) {
    float bm = -INFINITY;
    for (size_t j = 0; j < valid; j++) bm = s[j] > bm ? s[j] : bm;
    const float mn = bm > *m ? bm : *m;
    const float alpha = *m == -INFINITY ? 0.f : expf(*m - mn);
    float total = 0.f;
    for (size_t j = 0; j < valid; j++) { s[j] = expf(s[j] - mn); total += s[j]; }
    for (size_t j = valid; j < BLOCK; j++) s[j] = 0.f;
    *l = *l * alpha + total;
    *m = mn;
    return alpha;
}

static void pv_scalar(float *o, size_t rp, size_t d, const float *p, const float *v, size_t nk, const float *alpha) {
    for (size_t r = 0; r < rp; r++) {
        float *orow = o + r * d;
        for (size_t c = 0; c < d; c++) orow[c] *= alpha[r];
        for (size_t j = 0; j < nk; j++) {
            const float pj = p[r * BLOCK + j];
            for (size_t c = 0; c < d; c++) orow[c] += pj * v[j * d + c];
        }
    }
}

// Keys from..nk of the block one element at a time, then the zero padding up to BLOCK: all of the
// scalar path, and the tail of the vector one.
static void keys_transposed_from(float *kt, const float *kb, size_t ldk, size_t from, size_t nk, size_t d) {
    for (size_t j = from; j < nk; j++)
        for (size_t c = 0; c < d; c++) kt[c * BLOCK + j] = kb[j * ldk + c];
    for (size_t c = 0; c < d; c++)
        for (size_t j = nk; j < BLOCK; j++) kt[c * BLOCK + j] = 0.f;
}

static void keys_transposed_scalar(float *kt, const float *kb, size_t ldk, size_t nk, size_t d) {
    keys_transposed_from(kt, kb, ldk, 0, nk, d);
}

static const tile_kernels kernels_scalar = {keys_transposed_scalar, scores_scalar, softmax_row_scalar, pv_scalar};

#if defined(FKV_X86)
// ---------------------------------------------------------------------------------------------
// AVX2 + FMA (16 ymm): 6 rows × 16 columns of a tile in 12 accumulators, two loads of the shared
// operand and one broadcast per step.

__attribute__((always_inline)) static inline void scores_avx2_d(const float *q, size_t rp, size_t d,
                                                                const float *kt, float *p) {
    for (size_t r0 = 0; r0 < rp; r0 += MR) {
        const float *qr = q + r0 * d;
        for (size_t j0 = 0; j0 < BLOCK; j0 += 16) {
            __m256 acc[MR][2];
            for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
            const float *kb = kt + j0;
            for (size_t c = 0; c < d; c++) {
                const __m256 b0 = _mm256_load_ps(kb + c * BLOCK), b1 = _mm256_load_ps(kb + c * BLOCK + 8);
                for (int r = 0; r < MR; r++) {
                    const __m256 a = _mm256_broadcast_ss(qr + r * d + c);
                    acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
                    acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
                }
            }
            for (int r = 0; r < MR; r++) {
                _mm256_store_ps(p + (r0 + r) * BLOCK + j0, acc[r][0]);
                _mm256_store_ps(p + (r0 + r) * BLOCK + j0 + 8, acc[r][1]);
            }
        }
    }
}

static void scores_avx2(const float *q, size_t rp, size_t d, const float *kt, float *p) {
    if (d == 64) scores_avx2_d(q, rp, 64, kt, p);
    else if (d == 128) scores_avx2_d(q, rp, 128, kt, p);
    else scores_avx2_d(q, rp, d, kt, p);
}

// All-ones lanes for the keys of s[j..j+8) below `valid`.
static inline __m256 keep_lanes(size_t valid, size_t j) {
    return _mm256_castsi256_ps(lanes_below(valid > j ? min_size(valid - j, 8) : 0));
}

// Whole 8-key × 8-feature squares are transposed in registers (8 loads, 24 shuffles, 8 aligned
// stores); the keys past the last multiple of 8 and features past the last multiple of 8 one by one.
// The AVX-512 path uses it too (every AVX-512 CPU has AVX2). Before, every element was moved alone:
// 10 % of an 8192-token prefill on a Zen 3 EPYC, as each query block transposes every key block.
static void keys_transposed_avx2(float *kt, const float *kb, size_t ldk, size_t nk, size_t d) {
    const size_t j8 = nk / 8 * 8, c8 = d / 8 * 8;
    for (size_t j = 0; j < j8; j += 8) {
        const float *rows = kb + j * ldk;
        for (size_t c = 0; c < c8; c += 8) {
            __m256 r[8], t[8], u[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(rows + i * ldk + c);
            for (int i = 0; i < 8; i += 2) {
                t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);       // r_i[0] r_i+1[0] r_i[1] r_i+1[1] | [4] [5]
                t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);   // … [2] [3] | [6] [7]
            }
            for (int i = 0; i < 8; i += 4) {
                u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);      // feature 0 | 4 of rows i … i+3
                u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);  // 1 | 5
                u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);  // 2 | 6
                u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);  // 3 | 7
            }
            float *dst = kt + c * BLOCK + j;
            for (int i = 0; i < 4; i++) {
                _mm256_store_ps(dst + i * BLOCK, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
                _mm256_store_ps(dst + (i + 4) * BLOCK, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
            }
        }
        for (size_t c = c8; c < d; c++)
            for (size_t i = 0; i < 8; i++) kt[c * BLOCK + j + i] = rows[i * ldk + c];
    }
    keys_transposed_from(kt, kb, ldk, j8, nk, d);
}

// `masked` is a constant at both call sites, so the unmasked copy (every block but the diagonal one:
// all 64 keys valid) carries no lane masks.
static inline __attribute__((always_inline)) float softmax_row_avx2_body(float *s, size_t valid, float *m, float *l,
                                                                         const int masked) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 vmax = ninf;
    for (size_t j = 0; j < BLOCK; j += 8) {
        const __m256 x = _mm256_load_ps(s + j);
        vmax = _mm256_max_ps(vmax, masked ? _mm256_blendv_ps(ninf, x, keep_lanes(valid, j)) : x);
    }
    const float bm = hmax256(vmax);
    const float mn = bm > *m ? bm : *m;
    const float alpha = *m == -INFINITY ? 0.f : expf(*m - mn);
    const __m256 vm = _mm256_set1_ps(mn);
    __m256 vsum = _mm256_setzero_ps();
    for (size_t j = 0; j < BLOCK; j += 8) {
        const __m256 x = exp256(_mm256_sub_ps(_mm256_load_ps(s + j), vm));
        const __m256 e = masked ? _mm256_and_ps(x, keep_lanes(valid, j)) : x;
        _mm256_store_ps(s + j, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    *l = *l * alpha + hsum256(vsum);
    *m = mn;
    return alpha;
}

static float softmax_row_avx2(float *s, size_t valid, float *m, float *l) {
    return valid == BLOCK ? softmax_row_avx2_body(s, BLOCK, m, l, 0) : softmax_row_avx2_body(s, valid, m, l, 1);
}

// 6 rows × 16 columns of O (o, v point at column c0; rows d floats apart).
static inline void pv_tile16(float *o, size_t d, const float *p, const float *v, size_t nk, const float *alpha) {
    __m256 acc[MR][2];
    for (int r = 0; r < MR; r++) {
        const __m256 a = _mm256_broadcast_ss(alpha + r);
        acc[r][0] = _mm256_mul_ps(_mm256_loadu_ps(o + r * d), a);
        acc[r][1] = _mm256_mul_ps(_mm256_loadu_ps(o + r * d + 8), a);
    }
    for (size_t j = 0; j < nk; j++) {
        const __m256 v0 = _mm256_loadu_ps(v + j * d), v1 = _mm256_loadu_ps(v + j * d + 8);
        for (int r = 0; r < MR; r++) {
            const __m256 pj = _mm256_broadcast_ss(p + r * BLOCK + j);
            acc[r][0] = _mm256_fmadd_ps(pj, v0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(pj, v1, acc[r][1]);
        }
    }
    for (int r = 0; r < MR; r++) {
        _mm256_storeu_ps(o + r * d, acc[r][0]);
        _mm256_storeu_ps(o + r * d + 8, acc[r][1]);
    }
}

// 6 rows × up to 8 columns (the lanes set in `keep`), for d not a multiple of 16.
static inline void pv_tile8(float *o, size_t d, const float *p, const float *v, size_t nk, const float *alpha,
                            __m256i keep) {
    __m256 acc[MR];
    for (int r = 0; r < MR; r++) acc[r] = _mm256_mul_ps(_mm256_maskload_ps(o + r * d, keep), _mm256_broadcast_ss(alpha + r));
    for (size_t j = 0; j < nk; j++) {
        const __m256 v0 = _mm256_maskload_ps(v + j * d, keep);
        for (int r = 0; r < MR; r++) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(p + r * BLOCK + j), v0, acc[r]);
    }
    for (int r = 0; r < MR; r++) _mm256_maskstore_ps(o + r * d, keep, acc[r]);
}

__attribute__((always_inline)) static inline void pv_avx2_d(float *o, size_t rp, size_t d, const float *p,
                                                            const float *v, size_t nk, const float *alpha) {
    for (size_t r0 = 0; r0 < rp; r0 += MR) {
        float *orow = o + r0 * d;
        const float *prow = p + r0 * BLOCK;
        size_t c0 = 0;
        for (; c0 + 16 <= d; c0 += 16) pv_tile16(orow + c0, d, prow, v + c0, nk, alpha + r0);
        for (; c0 < d; c0 += 8)
            pv_tile8(orow + c0, d, prow, v + c0, nk, alpha + r0, lanes_below(min_size(d - c0, 8)));
    }
}

static void pv_avx2(float *o, size_t rp, size_t d, const float *p, const float *v, size_t nk, const float *alpha) {
    if (d == 64) pv_avx2_d(o, rp, 64, p, v, nk, alpha);
    else if (d == 128) pv_avx2_d(o, rp, 128, p, v, nk, alpha);
    else pv_avx2_d(o, rp, d, p, v, nk, alpha);
}

static const tile_kernels kernels_avx2 = {keys_transposed_avx2, scores_avx2, softmax_row_avx2, pv_avx2};

// ---------------------------------------------------------------------------------------------
// AVX-512 (32 zmm): a whole key block (64 keys = 4 vectors) per score step, and output strips of up
// to 64 columns, 6 rows each: 24 accumulators, 4 loads of the shared operand, one broadcast.

FKV_AVX512 static void scores_avx512(const float *q, size_t rp, size_t d, const float *kt, float *p) {
    for (size_t r0 = 0; r0 < rp; r0 += MR) {
        const float *qr = q + r0 * d;
        __m512 acc[MR][4];
        for (int r = 0; r < MR; r++)
            for (int i = 0; i < 4; i++) acc[r][i] = _mm512_setzero_ps();
        for (size_t c = 0; c < d; c++) {
            __m512 b[4];
            for (int i = 0; i < 4; i++) b[i] = _mm512_load_ps(kt + c * BLOCK + 16 * i);
            for (int r = 0; r < MR; r++) {
                const __m512 a = _mm512_set1_ps(qr[r * d + c]);
                for (int i = 0; i < 4; i++) acc[r][i] = _mm512_fmadd_ps(a, b[i], acc[r][i]);
            }
        }
        for (int r = 0; r < MR; r++)
            for (int i = 0; i < 4; i++) _mm512_store_ps(p + (r0 + r) * BLOCK + 16 * i, acc[r][i]);
    }
}

FKV_AVX512 static inline __mmask16 mask_below(size_t valid, size_t j) {   // lanes j … j+15 below valid
    const size_t left = valid > j ? min_size(valid - j, 16) : 0;
    return (__mmask16)((1u << left) - 1);
}

FKV_AVX512 static float softmax_row_avx512(float *s, size_t valid, float *m, float *l) {
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (size_t j = 0; j < BLOCK; j += 16)
        vmax = _mm512_mask_max_ps(vmax, mask_below(valid, j), vmax, _mm512_load_ps(s + j));
    const float bm = _mm512_reduce_max_ps(vmax);
    const float mn = bm > *m ? bm : *m;
    const float alpha = *m == -INFINITY ? 0.f : expf(*m - mn);
    const __m512 vm = _mm512_set1_ps(mn);
    __m512 vsum = _mm512_setzero_ps();
    for (size_t j = 0; j < BLOCK; j += 16) {
        const __m512 e = _mm512_maskz_mov_ps(mask_below(valid, j), exp512(_mm512_sub_ps(_mm512_load_ps(s + j), vm)));
        _mm512_store_ps(s + j, e);
        vsum = _mm512_add_ps(vsum, e);
    }
    *l = *l * alpha + _mm512_reduce_add_ps(vsum);
    *m = mn;
    return alpha;
}

// 6 rows × 16·NV columns, the last vector limited to the lanes in `tail`.
#define DEFINE_PV512(NV)                                                                                   \
FKV_AVX512 static void pv_strip512_##NV(float *o, size_t d, const float *p, const float *v, size_t nk,    \
                                        const float *alpha, __mmask16 tail) {                              \
    __mmask16 mk[NV];                                                                                      \
    for (int i = 0; i < NV; i++) mk[i] = i == NV - 1 ? tail : (__mmask16)0xffff;                          \
    __m512 acc[MR][NV];                                                                                    \
    for (int r = 0; r < MR; r++) {                                                                         \
        const __m512 a = _mm512_set1_ps(alpha[r]);                                                         \
        for (int i = 0; i < NV; i++) acc[r][i] = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk[i], o + r * d + 16 * i), a); \
    }                                                                                                      \
    for (size_t j = 0; j < nk; j++) {                                                                      \
        __m512 vv[NV];                                                                                     \
        for (int i = 0; i < NV; i++) vv[i] = _mm512_maskz_loadu_ps(mk[i], v + j * d + 16 * i);           \
        for (int r = 0; r < MR; r++) {                                                                     \
            const __m512 pj = _mm512_set1_ps(p[r * BLOCK + j]);                                            \
            for (int i = 0; i < NV; i++) acc[r][i] = _mm512_fmadd_ps(pj, vv[i], acc[r][i]);               \
        }                                                                                                  \
    }                                                                                                      \
    for (int r = 0; r < MR; r++)                                                                           \
        for (int i = 0; i < NV; i++) _mm512_mask_storeu_ps(o + r * d + 16 * i, mk[i], acc[r][i]);        \
}
DEFINE_PV512(1)
DEFINE_PV512(2)
DEFINE_PV512(3)
DEFINE_PV512(4)

FKV_AVX512 static void pv_avx512(float *o, size_t rp, size_t d, const float *p, const float *v, size_t nk,
                                 const float *alpha) {
    for (size_t r0 = 0; r0 < rp; r0 += MR) {
        float *orow = o + r0 * d;
        const float *prow = p + r0 * BLOCK;
        for (size_t c0 = 0; c0 < d; c0 += 64) {
            const size_t w = min_size(d - c0, 64), nv = (w + 15) / 16;
            const __mmask16 tail = w % 16 ? (__mmask16)((1u << (w % 16)) - 1) : (__mmask16)0xffff;
            switch (nv) {
            case 1: pv_strip512_1(orow + c0, d, prow, v + c0, nk, alpha + r0, tail); break;
            case 2: pv_strip512_2(orow + c0, d, prow, v + c0, nk, alpha + r0, tail); break;
            case 3: pv_strip512_3(orow + c0, d, prow, v + c0, nk, alpha + r0, tail); break;
            default: pv_strip512_4(orow + c0, d, prow, v + c0, nk, alpha + r0, tail); break;
            }
        }
    }
}

static const tile_kernels kernels_avx512 = {keys_transposed_avx2, scores_avx512, softmax_row_avx512, pv_avx512};
#endif

// ---------------------------------------------------------------------------------------------

typedef struct {
    size_t n, group, kv_heads, d, ldq, ldk, ldv, ldo, query_blocks, per_worker;
    const float *q, *k, *v;
    float scale;
    float *out, *scratch;
    const tile_kernels *kernels;
} prefill_args;

static void prefill_task(void *ctx, size_t task, size_t worker) {
    const prefill_args *a = ctx;
    const size_t qb = a->query_blocks - 1 - task / a->kv_heads, kv = task % a->kv_heads;
    const size_t group = a->group, d = a->d;
    const size_t i0 = qb * BLOCK, nq = min_size(BLOCK, a->n - i0), rows = group * nq, rp = round_up(rows, MR);
    const tile_scratch s = carve(a->scratch + worker * a->per_worker, group, d);
    const tile_kernels *kn = a->kernels;

    for (size_t g = 0; g < group; g++)
        for (size_t t = 0; t < nq; t++) {
            const float *src = a->q + (i0 + t) * a->ldq + (kv * group + g) * d;
            float *dst = s.q + (g * nq + t) * d;
            for (size_t c = 0; c < d; c++) dst[c] = src[c] * a->scale;
        }
    memset(s.q + rows * d, 0, (rp - rows) * d * sizeof(float));   // padding rows: finite, discarded
    memset(s.o, 0, rp * d * sizeof(float));
    for (size_t r = 0; r < rp; r++) { s.m[r] = -INFINITY; s.l[r] = 0.f; }

    for (size_t j0 = 0; j0 <= i0; j0 += BLOCK) {
        const size_t nk = min_size(BLOCK, a->n - j0);   // < BLOCK only for the diagonal block
        const float *kb = a->k + j0 * a->ldk + kv * d, *vb = a->v + j0 * a->ldv + kv * d;
        kn->keys_transposed(s.kt, kb, a->ldk, nk, d);
        for (size_t j = 0; j < nk; j++) memcpy(s.v + j * d, vb + j * a->ldv, d * sizeof(float));
        kn->scores(s.q, rp, d, s.kt, s.p);
        const int diagonal = j0 == i0;
        for (size_t r = 0; r < rp; r++) {
            // Diagonal block: token i0 + t sees keys i0 … i0 + t. Padding rows act as the last token.
            const size_t t = r < rows ? r % nq : nq - 1;
            s.alpha[r] = kn->softmax_row(s.p + r * BLOCK, diagonal ? t + 1 : nk, s.m + r, s.l + r);
        }
        kn->pv(s.o, rp, d, s.p, s.v, nk, s.alpha);
    }

    for (size_t g = 0; g < group; g++)
        for (size_t t = 0; t < nq; t++) {
            const size_t r = g * nq + t;
            const float inv = 1.f / s.l[r];
            float *dst = a->out + (i0 + t) * a->ldo + (kv * group + g) * d;
            for (size_t c = 0; c < d; c++) dst[c] = s.o[r * d + c] * inv;
        }
}

void fkv_prefill_attention(size_t n, size_t heads, size_t kv_heads, size_t d, const float *q, size_t ldq,
                           const float *k, size_t ldk, const float *v, size_t ldv, float scale, float *out,
                           size_t ldo, float *scratch) {
    if (n == 0 || kv_heads == 0 || d == 0) return;
    prefill_args a = {
        .n = n, .group = heads / kv_heads, .kv_heads = kv_heads, .d = d, .ldq = ldq, .ldk = ldk, .ldv = ldv,
        .ldo = ldo, .query_blocks = (n + BLOCK - 1) / BLOCK,
        .per_worker = fkv_prefill_attention_scratch_floats(heads / kv_heads, d),
        .q = q, .k = k, .v = v, .scale = scale, .out = out, .scratch = scratch, .kernels = &kernels_scalar,
    };
#if defined(FKV_X86)
    switch (fkv_kernel_path()) {
    case FKV_PATH_AVX512: a.kernels = &kernels_avx512; break;
    case FKV_PATH_AVX2: a.kernels = &kernels_avx2; break;
    case FKV_PATH_SCALAR: break;
    }
#endif
    fkv_parallel_for(a.query_blocks * kv_heads, prefill_task, &a);
}
