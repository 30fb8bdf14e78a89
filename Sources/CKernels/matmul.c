// Matrix kernels over weights kept in their checkpoint format (f32, f16, bf16, q8_0, q4_0, q4_1).
// Decode is bound by the bytes of weights streamed per token, so the quantised formats are read
// as they are and dequantised in registers: the product uses exactly the dequantised weight values
// (w = q·d + m) but regroups the sum per 32-weight block as d·Σq·x + m·Σx, which is exact algebra
// and differs from an f32 dot product only in rounding order.
//
// Paths (cpu.c): AVX2 kernels for every format; AVX-512 for Q8_0 with one vector (the Q4 formats
// keep their AVX2 kernels there: see below); scalar C (exact dequantisation, then a plain dot
// product) as the reference. fkv_matmul_kernel_for picks the kernel from the path, the format and
// the number of vectors m: for one vector (decode) rows are read four at a time or one at a time
// depending on their length (rows_one_at_a_time); small batches unpack each block once for four
// vectors (mm_rows_generic); larger ones dequantise a tile of rows once for all vectors
// (mm_rows_tiled).
#include "CKernels.h"
#include "half.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define FKV_AVX2 1
#endif

#define QK 32

static inline float f16_to_f32(uint16_t h) {
#if defined(FKV_AVX2)
    return _cvtsh_ss(h);
#else
    return fkv_half_bits_to_float(h);
#endif
}

static inline float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f; memcpy(&f, &bits, 4); return f;
}

static inline uint16_t load_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

static inline float half_value(fkv_format format, uint16_t h) {   // F16 or BF16
    return format == FKV_F16 ? f16_to_f32(h) : bf16_to_f32(h);
}

size_t fkv_row_bytes(fkv_format format, size_t cols) {
    switch (format) {
    case FKV_F32: return cols * 4;
    case FKV_F16: case FKV_BF16: return cols * 2;
    case FKV_Q8_0: return cols / QK * 34;
    case FKV_Q4_0: return cols / QK * 18;
    case FKV_Q4_1: return cols / QK * 20;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Row dequantisation (scalar on purpose: plain multiplies and adds, no FMA contraction — the
// translation unit is compiled with -ffp-contract=off — so values are bit-identical to the
// reference dequantisers used by the checkpoint readers).

// Columns [c0, c0 + n) of one row (`row` points at the row's first byte) into dst[n]; for the block
// formats c0 and n are multiples of 32.
static void dequant_slice(fkv_format format, const uint8_t *row, size_t c0, size_t n, float *dst) {
    switch (format) {
    case FKV_F32: memcpy(dst, row + c0 * 4, n * 4); return;
    case FKV_F16: for (size_t i = 0; i < n; i++) dst[i] = f16_to_f32(load_u16(row + 2 * (c0 + i))); return;
    case FKV_BF16: for (size_t i = 0; i < n; i++) dst[i] = bf16_to_f32(load_u16(row + 2 * (c0 + i))); return;
    case FKV_Q8_0: {
        const uint8_t *r = row + c0 / QK * 34;
        for (size_t b = 0; b < n / QK; b++, r += 34) {
            float d = f16_to_f32(load_u16(r));
            for (int i = 0; i < QK; i++) dst[b * QK + i] = (float)(int8_t)r[2 + i] * d;
        }
        return;
    }
    case FKV_Q4_0: {
        const uint8_t *r = row + c0 / QK * 18;
        for (size_t b = 0; b < n / QK; b++, r += 18) {
            float d = f16_to_f32(load_u16(r));
            for (int i = 0; i < 16; i++) {
                dst[b * QK + i] = (float)((int)(r[2 + i] & 0x0f) - 8) * d;
                dst[b * QK + i + 16] = (float)((int)(r[2 + i] >> 4) - 8) * d;
            }
        }
        return;
    }
    case FKV_Q4_1: {
        const uint8_t *r = row + c0 / QK * 20;
        for (size_t b = 0; b < n / QK; b++, r += 20) {
            float d = f16_to_f32(load_u16(r)), m = f16_to_f32(load_u16(r + 2));
            for (int i = 0; i < 16; i++) {
                float lo = (float)(r[4 + i] & 0x0f) * d;
                float hi = (float)(r[4 + i] >> 4) * d;
                dst[b * QK + i] = lo + m;
                dst[b * QK + i + 16] = hi + m;
            }
        }
        return;
    }
    }
}

void fkv_dequant_row(fkv_format format, const void *w, size_t cols, size_t row, float *dst) {
    dequant_slice(format, (const uint8_t *)w + row * fkv_row_bytes(format, cols), 0, cols, dst);
}

// ---------------------------------------------------------------------------------------------
// y[j][r] = Σ_c x[j][c]·W[r][c]. Each task covers a contiguous range of rows; inside it every
// weight block is unpacked once and used for all m vectors (continuous batching).

#define MB 4   // vectors processed together

typedef struct {
    fkv_format format;
    const uint8_t *w;
    size_t rows, cols, row_bytes;
    const float *x; size_t ldx; size_t m;
    float *y; size_t ldy; int accumulate;
    const float *xsum;     // [m][cols/32] block sums of x (q4 formats)
    const float *xq;       // [cols/32][32] permuted, pre-scaled x (q4 formats, m = 1, vector paths)
    size_t rows_per_task;
    fkv_matmul_kernel kernel;
} mm_args;

// Decode reads each weight once, straight from memory, so the order of the reads matters as much
// as the arithmetic. Four rows at a time share each load of x, but they are four streams
// row_bytes apart, which the hardware prefetcher keeps up with only while rows are short; one row
// at a time is one stream, but reloads all of x per row, which stops paying once x no longer fits
// in L1 beside the streaming weights. Measured on the Zen 4 EPYC (two threads, medians of 11
// interleaved runs, GB/s four rows at a time → one at a time): Q8_0 8192×2048 17 → 27, 2048×4096
// 18.6 → 20.4, 2048×8192 18.6 → 15.1, 576×576 15.7 → 22.1, 49152×576 20 → 22-25; Q4_1 576×1536
// (960-byte rows) 11.2 → 16.8, but 1536×576 (360-byte rows) 15.8 → 14.2. The f32/f16/bf16 rows
// (f16 8192×2048: 19.9 → 20.7) keep the four-row kernel, whose four FMA chains the one-row generic
// kernel lacks.
static inline int rows_one_at_a_time(fkv_format format, size_t row_bytes, size_t cols) {
    const int block = format == FKV_Q8_0 || format == FKV_Q4_0 || format == FKV_Q4_1;
    return block && row_bytes >= 512 && cols <= 4096;
}

#if defined(FKV_AVX2)
static inline float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    __m128 sh = _mm_movehdup_ps(lo);
    __m128 s = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, s);
    s = _mm_add_ss(s, sh);
    return _mm_cvtss_f32(s);
}

// Unpacks 32 weights of a block (before scale) into four vectors of 8 floats.
static inline void unpack_nibbles(const uint8_t *qs, __m256 out[4]) {
    __m128i bytes = _mm_loadu_si128((const __m128i *)qs);
    __m128i mask = _mm_set1_epi8(0x0f);
    __m128i lo = _mm_and_si128(bytes, mask);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
    out[0] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo));
    out[1] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)));
    out[2] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi));
    out[3] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)));
}

static inline void unpack_int8(const uint8_t *qs, __m256 out[4]) {
    for (int k = 0; k < 4; k++)
        out[k] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(qs + 8 * k))));
}

static void mm_rows_generic(const mm_args *a, size_t r0, size_t r1) {
    const size_t nb = a->cols / QK, cols8 = a->cols / 8 * 8;   // f32/f16/bf16 rows may end in a partial vector
    for (size_t j0 = 0; j0 < a->m; j0 += MB) {
        const size_t mb = a->m - j0 < MB ? a->m - j0 : MB;
        for (size_t r = r0; r < r1; r++) {
            const uint8_t *row = a->w + r * a->row_bytes;
            __m256 acc[MB];
            float extra[MB];
            for (size_t j = 0; j < MB; j++) { acc[j] = _mm256_setzero_ps(); extra[j] = 0.f; }
            switch (a->format) {
            case FKV_F32: {
                const float *wr = (const float *)row;
                for (size_t c = 0; c < cols8; c += 8) {
                    __m256 wv = _mm256_loadu_ps(wr + c);
                    for (size_t j = 0; j < mb; j++)
                        acc[j] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(a->x + (j0 + j) * a->ldx + c), acc[j]);
                }
                for (size_t c = cols8; c < a->cols; c++)
                    for (size_t j = 0; j < mb; j++) extra[j] += wr[c] * a->x[(j0 + j) * a->ldx + c];
                break;
            }
            case FKV_F16: case FKV_BF16: {
                const uint16_t *wr = (const uint16_t *)row;
                for (size_t c = 0; c < cols8; c += 8) {
                    __m128i h = _mm_loadu_si128((const __m128i *)(wr + c));
                    __m256 wv = a->format == FKV_F16
                        ? _mm256_cvtph_ps(h)
                        : _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
                    for (size_t j = 0; j < mb; j++)
                        acc[j] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(a->x + (j0 + j) * a->ldx + c), acc[j]);
                }
                for (size_t c = cols8; c < a->cols; c++)
                    for (size_t j = 0; j < mb; j++) extra[j] += half_value(a->format, wr[c]) * a->x[(j0 + j) * a->ldx + c];
                break;
            }
            case FKV_Q8_0: case FKV_Q4_0: case FKV_Q4_1: {
                const size_t bb = a->format == FKV_Q8_0 ? 34 : a->format == FKV_Q4_0 ? 18 : 20;
                for (size_t b = 0; b < nb; b++) {
                    const uint8_t *blk = row + b * bb;
                    __m256 q[4];
                    float d = f16_to_f32(load_u16(blk)), mn = 0.f;
                    if (a->format == FKV_Q8_0) unpack_int8(blk + 2, q);
                    else if (a->format == FKV_Q4_0) { unpack_nibbles(blk + 2, q); mn = -8.f * d; }
                    else { mn = f16_to_f32(load_u16(blk + 2)); unpack_nibbles(blk + 4, q); }
                    const __m256 dv = _mm256_set1_ps(d);
                    for (size_t j = 0; j < mb; j++) {
                        const float *xb = a->x + (j0 + j) * a->ldx + b * QK;
                        __m256 t = _mm256_mul_ps(q[0], _mm256_loadu_ps(xb));
                        t = _mm256_fmadd_ps(q[1], _mm256_loadu_ps(xb + 8), t);
                        t = _mm256_fmadd_ps(q[2], _mm256_loadu_ps(xb + 16), t);
                        t = _mm256_fmadd_ps(q[3], _mm256_loadu_ps(xb + 24), t);
                        acc[j] = _mm256_fmadd_ps(t, dv, acc[j]);
                        if (a->format != FKV_Q8_0) extra[j] += mn * a->xsum[(j0 + j) * nb + b];
                    }
                }
                break;
            }
            }
            for (size_t j = 0; j < mb; j++) {
                float v = hsum256(acc[j]) + extra[j];
                float *dst = a->y + (j0 + j) * a->ldy + r;
                *dst = a->accumulate ? *dst + v : v;
            }
        }
    }
}
// Batches of vectors (continuous-batching decode steps, m ≥ TILED_MIN_M_*): the weight rows are
// dequantised TILE_ROWS at a time, TILE_COLS columns at a time, into an f32 tile on the stack (at
// most 6 KiB, so it stays in L1), and a dot-product micro-kernel runs every group of four vectors
// over it: 3 rows × 4 vectors = 12 accumulators, 3 weight vectors and one x vector in the 16 ymm
// registers, one FMA per 8 weights and vector with nothing else in the inner loop. Each weight is
// dequantised once per call, not once per four vectors as in mm_rows_generic, whose per-block
// unpacking, scale FMA and scalar m·Σx term cost more than the FMAs themselves at m = 16. The
// dequantised values are exactly dequant_slice's (same multiplies and adds, no contraction), so
// only the order of the sum differs from the reference.
#define TILE_ROWS 3
#define TILE_COLS 512   // a multiple of 32 (the block formats' chunks start on a block)
// From how many vectors the tiled kernel beats mm_rows_generic (Zen 4 EPYC, 576×1536, two threads,
// medians of 9 interleaved calls): Q4_1 and Q8_0 lose at m ≤ 4 (m = 2: 116 against 79 µs) and win
// from m = 5 or 6 (Q4_1 m = 5: 140 against 180 µs; m = 16, 1536×576: 366 against 611); f16 and f32
// rows, which mm_rows_generic does not unpack, win from m = 2 (f16 65 against 84 µs).
#define TILED_MIN_M_BLOCK 5
#define TILED_MIN_M_FLOAT 2

// Columns [c0, c0 + n) of one row into dst[n]; n is a multiple of 8, and of 32 for the block
// formats (the caller handles a final partial vector of f32/f16/bf16 rows itself).
static inline void dequant_tile_row(fkv_format f, const uint8_t *row, size_t c0, size_t n, float *dst) {
    switch (f) {
    case FKV_F32:
        memcpy(dst, row + c0 * 4, n * 4);
        return;
    case FKV_F16:
        for (size_t c = 0; c < n; c += 8)
            _mm256_storeu_ps(dst + c, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + 2 * (c0 + c)))));
        return;
    case FKV_BF16:
        for (size_t c = 0; c < n; c += 8) {
            const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(row + 2 * (c0 + c))));
            _mm256_storeu_ps(dst + c, _mm256_castsi256_ps(_mm256_slli_epi32(h, 16)));
        }
        return;
    case FKV_Q8_0: {
        const uint8_t *blk = row + c0 / QK * 34;
        for (size_t b = 0; b < n / QK; b++, blk += 34) {
            const __m256 d = _mm256_set1_ps(f16_to_f32(load_u16(blk)));
            for (int k = 0; k < 4; k++) {
                const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(blk + 2 + 8 * k)));
                _mm256_storeu_ps(dst + b * QK + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
            }
        }
        return;
    }
    case FKV_Q4_0: case FKV_Q4_1: {
        const int q41 = f == FKV_Q4_1;
        const size_t bb = q41 ? 20 : 18;
        const uint8_t *blk = row + c0 / QK * bb;
        const __m128i low = _mm_set1_epi8(0x0f);
        const __m256i eight = _mm256_set1_epi32(8);
        for (size_t b = 0; b < n / QK; b++, blk += bb) {
            // d and (Q4_1) m are adjacent f16 values: one load, one conversion.
            uint32_t hdr;
            memcpy(&hdr, blk, q41 ? 4 : 2);
            const __m128 dm = _mm_cvtph_ps(_mm_cvtsi32_si128((int)(q41 ? hdr : hdr & 0xffff)));
            const __m256 d = _mm256_broadcastss_ps(dm);
            const __m256 mn = _mm256_broadcastss_ps(_mm_movehdup_ps(dm));
            const __m128i bytes = _mm_loadu_si128((const __m128i *)(blk + (q41 ? 4 : 2)));
            const __m128i lo = _mm_and_si128(bytes, low), hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low);
            const __m128i part[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
            for (int k = 0; k < 4; k++) {
                __m256i q = _mm256_cvtepu8_epi32(part[k]);
                if (!q41) q = _mm256_sub_epi32(q, eight);
                __m256 w = _mm256_mul_ps(_mm256_cvtepi32_ps(q), d);
                if (q41) w = _mm256_add_ps(w, mn);
                _mm256_storeu_ps(dst + b * QK + 8 * k, w);
            }
        }
        return;
    }
    }
}

// s[i][j] = Σ_{c < n8} w[i][c]·x[j][c] for tr ≤ 3 rows and v ≤ 4 vectors (x[j] = x + j·ldx).
// Called with constant tr and v, so each use compiles to its own fully unrolled loop.
static inline __attribute__((always_inline)) void tile_dot(const float *w, size_t ldw, int tr, const float *x,
                                                           size_t ldx, int v, size_t n8,
                                                           float s[TILE_ROWS][4]) {
    __m256 acc[TILE_ROWS][4];
    for (int i = 0; i < tr; i++)
        for (int j = 0; j < v; j++) acc[i][j] = _mm256_setzero_ps();
    for (size_t c = 0; c < n8; c += 8) {
        __m256 wv[TILE_ROWS];
        for (int i = 0; i < tr; i++) wv[i] = _mm256_loadu_ps(w + i * ldw + c);
        for (int j = 0; j < v; j++) {
            const __m256 xv = _mm256_loadu_ps(x + j * ldx + c);
            for (int i = 0; i < tr; i++) acc[i][j] = _mm256_fmadd_ps(wv[i], xv, acc[i][j]);
        }
    }
    for (int i = 0; i < tr; i++)
        for (int j = 0; j < v; j++) s[i][j] = hsum256(acc[i][j]);
}

static void tile_dot_any(const float *w, size_t ldw, int tr, const float *x, size_t ldx, int v, size_t n8,
                         float s[TILE_ROWS][4]) {
#define TILE_CASE(TR, V) case (TR) * 8 + (V): tile_dot(w, ldw, TR, x, ldx, V, n8, s); return;
    switch (tr * 8 + v) {
    TILE_CASE(3, 4) TILE_CASE(3, 3) TILE_CASE(3, 2) TILE_CASE(3, 1)
    TILE_CASE(2, 4) TILE_CASE(2, 3) TILE_CASE(2, 2) TILE_CASE(2, 1)
    TILE_CASE(1, 4) TILE_CASE(1, 3) TILE_CASE(1, 2) TILE_CASE(1, 1)
    }
#undef TILE_CASE
}

static void mm_rows_tiled(const mm_args *a, size_t r0, size_t r1) {
    float tile[TILE_ROWS * TILE_COLS] __attribute__((aligned(64)));
    const size_t cols8 = a->cols / 8 * 8;   // f32/f16/bf16 rows may end in a partial vector
    for (size_t r = r0; r < r1; r += TILE_ROWS) {
        const int tr = r1 - r < TILE_ROWS ? (int)(r1 - r) : TILE_ROWS;
        if (r + 2 * TILE_ROWS <= a->rows) {   // the next tile's rows, while this one computes
            const char *next = (const char *)(a->w + (r + TILE_ROWS) * a->row_bytes);
            for (size_t off = 0; off < TILE_ROWS * a->row_bytes; off += 64) _mm_prefetch(next + off, _MM_HINT_T0);
        }
        for (size_t c0 = 0; c0 < cols8; c0 += TILE_COLS) {
            const size_t n = cols8 - c0 < TILE_COLS ? cols8 - c0 : TILE_COLS;
            const float *w;
            size_t ldw;
            if (a->format == FKV_F32) {   // already f32: read the rows in place
                w = (const float *)(a->w + r * a->row_bytes) + c0;
                ldw = a->cols;
            } else {
                for (int i = 0; i < tr; i++)
                    dequant_tile_row(a->format, a->w + (r + i) * a->row_bytes, c0, n, tile + i * TILE_COLS);
                w = tile;
                ldw = TILE_COLS;
            }
            const int first = c0 == 0;
            for (size_t j0 = 0; j0 < a->m; j0 += 4) {
                const int v = a->m - j0 < 4 ? (int)(a->m - j0) : 4;
                float s[TILE_ROWS][4];
                tile_dot_any(w, ldw, tr, a->x + j0 * a->ldx + c0, a->ldx, v, n, s);
                for (int i = 0; i < tr; i++)
                    for (int j = 0; j < v; j++) {
                        float *dst = a->y + (j0 + j) * a->ldy + r + i;
                        *dst = first && !a->accumulate ? s[i][j] : *dst + s[i][j];
                    }
            }
        }
        if (cols8 < a->cols)   // the last partial vector of f32/f16/bf16 rows, in scalar code
            for (int i = 0; i < tr; i++) {
                const uint8_t *row = a->w + (r + i) * a->row_bytes;
                for (size_t j = 0; j < a->m; j++) {
                    float e = 0.f;
                    for (size_t c = cols8; c < a->cols; c++) {
                        const float wc = a->format == FKV_F32 ? ((const float *)row)[c]
                                                              : half_value(a->format, ((const uint16_t *)row)[c]);
                        e += wc * a->x[j * a->ldx + c];
                    }
                    float *dst = a->y + j * a->ldy + r + i;
                    *dst = cols8 == 0 && !a->accumulate ? e : *dst + e;
                }
            }
    }
}

// One input vector (single-sequence decode) of f32/f16/bf16 rows and short Q8_0 rows: four rows
// at a time, so four independent FMA chains hide the FMA latency and every x block is loaded once
// for four rows. Chains inside a block are split in two for the same reason.
static inline __m256 block_dot(const __m256 q[4], const float *xb) {
    __m256 t0 = _mm256_mul_ps(q[0], _mm256_loadu_ps(xb));
    __m256 t1 = _mm256_mul_ps(q[1], _mm256_loadu_ps(xb + 8));
    t0 = _mm256_fmadd_ps(q[2], _mm256_loadu_ps(xb + 16), t0);
    t1 = _mm256_fmadd_ps(q[3], _mm256_loadu_ps(xb + 24), t1);
    return _mm256_add_ps(t0, t1);
}

static void mm_rows_m1(const mm_args *a, size_t r0, size_t r1) {
    const size_t nb = a->cols / QK, cols8 = a->cols / 8 * 8;
    const float *x = a->x;
    size_t r = r0;
    for (; r + 4 <= r1; r += 4) {
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
        float extra[4] = {0, 0, 0, 0};
        const uint8_t *rows[4];
        for (int k = 0; k < 4; k++) rows[k] = a->w + (r + k) * a->row_bytes;
        if (r + 8 <= r1) {   // the next four rows, while these compute
            const char *next = (const char *)(a->w + (r + 4) * a->row_bytes);
            for (size_t off = 0; off < 4 * a->row_bytes; off += 64) _mm_prefetch(next + off, _MM_HINT_T0);
        }
        switch (a->format) {
        case FKV_Q4_0: case FKV_Q4_1: break;   // never here: one Q4 vector takes mm_rows_m1_q4
        case FKV_Q8_0:
            for (size_t b = 0; b < nb; b++) {
                const float *xb = x + b * QK;
                for (int k = 0; k < 4; k++) {
                    const uint8_t *blk = rows[k] + b * 34;
                    __m256 q[4];
                    unpack_int8(blk + 2, q);
                    acc[k] = _mm256_fmadd_ps(block_dot(q, xb), _mm256_set1_ps(f16_to_f32(load_u16(blk))), acc[k]);
                }
            }
            break;
        case FKV_F32:
            for (size_t c = 0; c < cols8; c += 8) {
                const __m256 xv = _mm256_loadu_ps(x + c);
                for (int k = 0; k < 4; k++)
                    acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps((const float *)rows[k] + c), xv, acc[k]);
            }
            for (size_t c = cols8; c < a->cols; c++)
                for (int k = 0; k < 4; k++) extra[k] += ((const float *)rows[k])[c] * x[c];
            break;
        case FKV_F16: case FKV_BF16:
            for (size_t c = 0; c < cols8; c += 8) {
                const __m256 xv = _mm256_loadu_ps(x + c);
                for (int k = 0; k < 4; k++) {
                    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)rows[k] + c));
                    __m256 wv = a->format == FKV_F16
                        ? _mm256_cvtph_ps(h)
                        : _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
                    acc[k] = _mm256_fmadd_ps(wv, xv, acc[k]);
                }
            }
            for (size_t c = cols8; c < a->cols; c++)
                for (int k = 0; k < 4; k++) extra[k] += half_value(a->format, ((const uint16_t *)rows[k])[c]) * x[c];
            break;
        }
        for (int k = 0; k < 4; k++) {
            float v = hsum256(acc[k]) + extra[k];
            float *dst = a->y + r + k;
            *dst = a->accumulate ? *dst + v : v;
        }
    }
    if (r < r1) {
        mm_args tail = *a;
        tail.m = 1;
        mm_rows_generic(&tail, r, r1);
    }
}

// Q4_0/Q4_1 with one input vector, without shuffles. Unpacking nibbles with byte-to-dword
// widening (vpmovzxbd) and shifts keeps the shuffle ports busy (about 11 cycles per row and block
// on Zen 3). Here the block's 16 bytes are broadcast to both halves of a ymm and each nibble is
// isolated in place with an AND mask: lane i of vector j holds nibble·2^p, with p the nibble's bit
// position in its dword, which converts to float exactly. The input is permuted and pre-scaled by
// 2^−p once per call (`xq`, [blocks][32]), so (nibble·2^p)·(x·2^−p) = nibble·x exactly and the sum
// is the same as with widened nibbles (only the lanes that share an accumulator differ).
//   vector j (j < 3), lanes 0-3: low nibble of byte 4i+j (p = 8j)      weight 4i+j
//                     lanes 4-7: high nibble of byte 4i+j (p = 8j+4)   weight 4i+j+16
//   vector 3 uses the bytes shifted right by 4 (so no nibble reaches the sign bit): p = 20 / 24.
static const int32_t q4_mask[4][8] = {
    {0xf, 0xf, 0xf, 0xf, 0xf0, 0xf0, 0xf0, 0xf0},
    {0xf00, 0xf00, 0xf00, 0xf00, 0xf000, 0xf000, 0xf000, 0xf000},
    {0xf0000, 0xf0000, 0xf0000, 0xf0000, 0xf00000, 0xf00000, 0xf00000, 0xf00000},
    {0xf00000, 0xf00000, 0xf00000, 0xf00000, 0xf000000, 0xf000000, 0xf000000, 0xf000000},
};

// xq[b][8j + i] = x[b·32 + q4_source[8j + i]] · 2^−q4_shift[8j + i], for every block b.
static const uint8_t q4_source[32] = {0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29, 2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31};
static const uint8_t q4_shift[32] = {0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12, 16, 16, 16, 16, 20, 20, 20, 20, 20, 20, 20, 20, 24, 24, 24, 24};

static void q4_prescale(const float *x, size_t nb, float *xq) {
    float scale[32];
    for (int k = 0; k < 32; k++) scale[k] = 1.f / (float)(1u << q4_shift[k]);   // exact powers of two
    for (size_t b = 0; b < nb; b++)
        for (int k = 0; k < 32; k++) xq[b * QK + k] = x[b * QK + q4_source[k]] * scale[k];
}

// One 32-weight block of one row: Σ_i nibble_i·x_i as 8 partial sums.
static inline __m256 q4_block_dot(const uint8_t *qs, const float *xq, const __m256i mask[4]) {
    const __m256i q = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    const __m256 w0 = _mm256_cvtepi32_ps(_mm256_and_si256(q, mask[0]));
    const __m256 w1 = _mm256_cvtepi32_ps(_mm256_and_si256(q, mask[1]));
    const __m256 w2 = _mm256_cvtepi32_ps(_mm256_and_si256(q, mask[2]));
    const __m256 w3 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(q, 4), mask[3]));
    __m256 t0 = _mm256_mul_ps(w0, _mm256_loadu_ps(xq));
    __m256 t1 = _mm256_mul_ps(w1, _mm256_loadu_ps(xq + 8));
    t0 = _mm256_fmadd_ps(w2, _mm256_loadu_ps(xq + 16), t0);
    t1 = _mm256_fmadd_ps(w3, _mm256_loadu_ps(xq + 24), t1);
    return _mm256_add_ps(t0, t1);
}

// Rows r … r+3. The four rows' block headers (Q4_1: f16 d and m side by side; Q4_0: d) are
// gathered into one vector and converted together, so each row and block costs one broadcast
// of its d, and the m·Σx terms of all four rows take one FMA.
static void q4_rows4(const mm_args *a, size_t r) {
    const size_t nb = a->cols / QK;
    const int q41 = a->format == FKV_Q4_1;
    const size_t bb = q41 ? 20 : 18, qoff = q41 ? 4 : 2;
    __m256i mask[4];
    for (int j = 0; j < 4; j++) mask[j] = _mm256_loadu_si256((const __m256i *)q4_mask[j]);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0, extra = acc0;
    const uint8_t *row = a->w + r * a->row_bytes;
    const size_t rb = a->row_bytes;
    // Decode streams every weight once: ask for the next four rows while these compute.
    if (r + 8 <= a->rows) {   // (may run into the next task's rows: harmless)
        const char *next = (const char *)(row + 4 * rb);
        for (size_t off = 0; off < 4 * rb; off += 64) _mm_prefetch(next + off, _MM_HINT_T0);
    }
    for (size_t b = 0; b < nb; b++, row += bb) {
        const float *xb = a->xq + b * QK;
        // The first 4 bytes of each row's block → dm = [d0 m0 d1 m1 d2 m2 d3 m3] (Q4_1). For Q4_0
        // the odd lanes are the first code bytes, never used: there m = −8·d is applied at the end.
        uint32_t h[4];
        for (int k = 0; k < 4; k++) memcpy(&h[k], row + k * rb, 4);
        const __m256 dm = _mm256_cvtph_ps(_mm_setr_epi32((int)h[0], (int)h[1], (int)h[2], (int)h[3]));
        extra = _mm256_fmadd_ps(dm, _mm256_set1_ps(a->xsum[b]), extra);   // lane 2k+1: m_k·Σx; 2k: d_k·Σx
        acc0 = _mm256_fmadd_ps(q4_block_dot(row + qoff, xb, mask), _mm256_permutevar8x32_ps(dm, _mm256_set1_epi32(0)), acc0);
        acc1 = _mm256_fmadd_ps(q4_block_dot(row + rb + qoff, xb, mask), _mm256_permutevar8x32_ps(dm, _mm256_set1_epi32(2)), acc1);
        acc2 = _mm256_fmadd_ps(q4_block_dot(row + 2 * rb + qoff, xb, mask), _mm256_permutevar8x32_ps(dm, _mm256_set1_epi32(4)), acc2);
        acc3 = _mm256_fmadd_ps(q4_block_dot(row + 3 * rb + qoff, xb, mask), _mm256_permutevar8x32_ps(dm, _mm256_set1_epi32(6)), acc3);
    }
    float e[8];
    _mm256_storeu_ps(e, extra);
    const float v[4] = {
        hsum256(acc0) + (q41 ? e[1] : -8.f * e[0]), hsum256(acc1) + (q41 ? e[3] : -8.f * e[2]),
        hsum256(acc2) + (q41 ? e[5] : -8.f * e[4]), hsum256(acc3) + (q41 ? e[7] : -8.f * e[6]),
    };
    for (int k = 0; k < 4; k++) {
        float *dst = a->y + r + k;
        *dst = a->accumulate ? *dst + v[k] : v[k];
    }
}

// One row (the tail of a task).
static void q4_row1(const mm_args *a, size_t r) {
    const size_t nb = a->cols / QK;
    const int q41 = a->format == FKV_Q4_1;
    const size_t bb = q41 ? 20 : 18, qoff = q41 ? 4 : 2;
    __m256i mask[4];
    for (int j = 0; j < 4; j++) mask[j] = _mm256_loadu_si256((const __m256i *)q4_mask[j]);
    __m256 acc = _mm256_setzero_ps();
    float extra = 0.f;
    const uint8_t *row = a->w + r * a->row_bytes;
    for (size_t b = 0; b < nb; b++, row += bb) {
        const float d = f16_to_f32(load_u16(row));
        acc = _mm256_fmadd_ps(q4_block_dot(row + qoff, a->xq + b * QK, mask), _mm256_set1_ps(d), acc);
        extra += (q41 ? f16_to_f32(load_u16(row + 2)) : -8.f * d) * a->xsum[b];
    }
    const float v = hsum256(acc) + extra;
    float *dst = a->y + r;
    *dst = a->accumulate ? *dst + v : v;
}

// Q4_0/Q4_1, one input vector: four rows at a time (a task's last rows one at a time), or every
// row one at a time (rows_one_at_a_time).
static void mm_rows_m1_q4(const mm_args *a, size_t r0, size_t r1, int four) {
    size_t r = r0;
    if (four)
        for (; r + 4 <= r1; r += 4) q4_rows4(a, r);
    for (; r < r1; r++) q4_row1(a, r);
}

// AVX-512 variants of the one-vector Q8_0 kernel: a whole 32-weight block is two 16-lane
// registers, so unpacking and FMAs take half the instructions. Chosen at run time. The Q4 formats
// stay on the AVX2 kernels above (q4_rows4, q4_row1): their mask-and-convert unpacking beat
// 16-lane widening by 20-25 % on the Zen 4 EPYC, whose AVX-512 units are 256 bits wide.
#define FKV_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

FKV_AVX512 static inline float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }

// Σ q·x over one block's 32 int8 codes (before the scale d), as 16 partial sums.
FKV_AVX512 static inline __m512 q8_block_dot_avx512(const uint8_t *blk, __m512 x0, __m512 x1) {
    const __m512 q0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(blk + 2))));
    const __m512 q1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(blk + 18))));
    return _mm512_fmadd_ps(q1, x1, _mm512_mul_ps(q0, x0));
}

// One row (see rows_one_at_a_time): blocks alternate between two accumulators so that
// consecutive blocks do not wait on each other's FMA.
FKV_AVX512 static void q8_row1_avx512(const mm_args *a, size_t r) {
    const size_t nb = a->cols / QK;
    const uint8_t *row = a->w + r * a->row_bytes;
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *blk = row + b * 34;
        const float *xb = a->x + b * QK;
        const __m512 t = q8_block_dot_avx512(blk, _mm512_loadu_ps(xb), _mm512_loadu_ps(xb + 16));
        acc[b & 1] = _mm512_fmadd_ps(t, _mm512_set1_ps(f16_to_f32(load_u16(blk))), acc[b & 1]);
    }
    const float v = hsum512(_mm512_add_ps(acc[0], acc[1]));
    float *dst = a->y + r;
    *dst = a->accumulate ? *dst + v : v;
}

// Short rows, four at a time.
FKV_AVX512 static void q8_rows4_avx512(const mm_args *a, size_t r) {
    const size_t nb = a->cols / QK;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    const uint8_t *rows[4];
    for (int k = 0; k < 4; k++) rows[k] = a->w + (r + k) * a->row_bytes;
    // Decode streams every weight once: ask for the next group of rows while this one computes.
    if (r + 8 <= a->rows) {   // (may run into the next task's rows: harmless)
        const char *next = (const char *)(a->w + (r + 4) * a->row_bytes);
        for (size_t off = 0; off < 4 * a->row_bytes; off += 64) _mm_prefetch(next + off, _MM_HINT_T0);
    }
    for (size_t b = 0; b < nb; b++) {
        const float *xb = a->x + b * QK;
        const __m512 x0 = _mm512_loadu_ps(xb), x1 = _mm512_loadu_ps(xb + 16);
        for (int k = 0; k < 4; k++) {
            const uint8_t *blk = rows[k] + b * 34;
            acc[k] = _mm512_fmadd_ps(q8_block_dot_avx512(blk, x0, x1), _mm512_set1_ps(f16_to_f32(load_u16(blk))), acc[k]);
        }
    }
    for (int k = 0; k < 4; k++) {
        const float v = hsum512(acc[k]);
        float *dst = a->y + r + k;
        *dst = a->accumulate ? *dst + v : v;
    }
}

// Q8_0, one input vector: every row one at a time (long rows: rows_one_at_a_time), or four at a
// time with a task's last rows (fewer than four) on the generic kernel.
FKV_AVX512 static void mm_rows_m1_q8_avx512(const mm_args *a, size_t r0, size_t r1, int four) {
    size_t r = r0;
    if (!four) {
        for (; r < r1; r++) q8_row1_avx512(a, r);
        return;
    }
    for (; r + 4 <= r1; r += 4) q8_rows4_avx512(a, r);
    if (r < r1) {
        mm_args tail = *a;
        tail.m = 1;
        mm_rows_generic(&tail, r, r1);
    }
}

#endif

// The reference: dequantise each row exactly, then a plain f32 dot product in increasing column
// order (no FMA: -ffp-contract=off). Rows are dequantised in slices through a stack buffer.
static void mm_rows_scalar(const mm_args *a, size_t r0, size_t r1) {
    enum { SLICE = 256 };   // a multiple of the 32-weight block
    float tmp[SLICE];
    for (size_t r = r0; r < r1; r++) {
        const uint8_t *row = a->w + r * a->row_bytes;
        for (size_t j0 = 0; j0 < a->m; j0 += MB) {
            const size_t mb = a->m - j0 < MB ? a->m - j0 : MB;
            float dot[MB] = {0};
            for (size_t c0 = 0; c0 < a->cols; c0 += SLICE) {
                const size_t n = a->cols - c0 < SLICE ? a->cols - c0 : SLICE;
                dequant_slice(a->format, row, c0, n, tmp);
                for (size_t j = 0; j < mb; j++) {
                    const float *xv = a->x + (j0 + j) * a->ldx + c0;
                    float s = dot[j];
                    for (size_t c = 0; c < n; c++) s += tmp[c] * xv[c];
                    dot[j] = s;
                }
            }
            for (size_t j = 0; j < mb; j++) {
                float *dst = a->y + (j0 + j) * a->ldy + r;
                *dst = a->accumulate ? *dst + dot[j] : dot[j];
            }
        }
    }
}

static void mm_rows(const mm_args *a, size_t r0, size_t r1) {
    switch (a->kernel) {
#if defined(FKV_AVX2)
    case FKV_MM_Q8_ROWS4_M1_AVX512: mm_rows_m1_q8_avx512(a, r0, r1, 1); return;
    case FKV_MM_Q8_ROW1_M1_AVX512: mm_rows_m1_q8_avx512(a, r0, r1, 0); return;
    case FKV_MM_Q4_ROWS4_M1: mm_rows_m1_q4(a, r0, r1, 1); return;
    case FKV_MM_Q4_ROW1_M1: mm_rows_m1_q4(a, r0, r1, 0); return;
    case FKV_MM_ROWS4_M1: mm_rows_m1(a, r0, r1); return;
    case FKV_MM_ROW1_M1: case FKV_MM_GENERIC: mm_rows_generic(a, r0, r1); return;
    case FKV_MM_TILED: mm_rows_tiled(a, r0, r1); return;
#else
    case FKV_MM_Q8_ROWS4_M1_AVX512: case FKV_MM_Q8_ROW1_M1_AVX512: case FKV_MM_Q4_ROWS4_M1: case FKV_MM_Q4_ROW1_M1:
    case FKV_MM_ROWS4_M1: case FKV_MM_ROW1_M1: case FKV_MM_GENERIC: case FKV_MM_TILED:
#endif
    case FKV_MM_SCALAR: break;
    }
    mm_rows_scalar(a, r0, r1);
}

fkv_matmul_kernel fkv_matmul_kernel_for(fkv_path path, fkv_format format, size_t cols, size_t m) {
#if defined(FKV_AVX2)
    if (path == FKV_PATH_SCALAR) return FKV_MM_SCALAR;
    const int q4 = format == FKV_Q4_0 || format == FKV_Q4_1;
    const int block = q4 || format == FKV_Q8_0;
    if (m == 1) {
        const int one = rows_one_at_a_time(format, fkv_row_bytes(format, cols), cols);
        if (path == FKV_PATH_AVX512 && format == FKV_Q8_0) return one ? FKV_MM_Q8_ROW1_M1_AVX512 : FKV_MM_Q8_ROWS4_M1_AVX512;
        if (q4) return one ? FKV_MM_Q4_ROW1_M1 : FKV_MM_Q4_ROWS4_M1;
        return one ? FKV_MM_ROW1_M1 : FKV_MM_ROWS4_M1;
    }
    return m >= (block ? TILED_MIN_M_BLOCK : TILED_MIN_M_FLOAT) ? FKV_MM_TILED : FKV_MM_GENERIC;
#else
    (void)path; (void)format; (void)cols; (void)m;
    return FKV_MM_SCALAR;
#endif
}

const char *fkv_matmul_kernel_name(fkv_matmul_kernel kernel) {
    switch (kernel) {
    case FKV_MM_SCALAR: return "scalar";
    case FKV_MM_GENERIC: return "generic";
    case FKV_MM_ROWS4_M1: return "rows4-m1";
    case FKV_MM_ROW1_M1: return "row1-m1";
    case FKV_MM_Q4_ROWS4_M1: return "q4-rows4-m1";
    case FKV_MM_Q4_ROW1_M1: return "q4-row1-m1";
    case FKV_MM_Q8_ROWS4_M1_AVX512: return "q8-rows4-m1-avx512";
    case FKV_MM_Q8_ROW1_M1_AVX512: return "q8-row1-m1-avx512";
    case FKV_MM_TILED: return "tiled";
    }
    return "?";
}

static void mm_task(void *ctx, size_t task, size_t worker) {
    (void)worker;
    const mm_args *a = (const mm_args *)ctx;
    size_t r0 = task * a->rows_per_task;
    size_t r1 = r0 + a->rows_per_task;
    if (r1 > a->rows) r1 = a->rows;
    if (r0 < r1) mm_rows(a, r0, r1);
}

// Tests refuse the scratch to reach the fallback below; the counter tells them it was taken.
static atomic_int scratch_refused = 0;
static atomic_size_t scratch_fallbacks = 0;
void fkv_matmul_refuse_scratch(int refuse) { atomic_store(&scratch_refused, refuse != 0); }
size_t fkv_matmul_scratch_fallbacks(void) { return atomic_load(&scratch_fallbacks); }

static void *scratch_alloc(size_t bytes) {
    void *p = atomic_load_explicit(&scratch_refused, memory_order_relaxed) ? NULL : malloc(bytes);
    if (!p) atomic_fetch_add(&scratch_fallbacks, 1);
    return p;
}

void fkv_matmul(fkv_format format, const void *w, size_t rows, size_t cols,
                const float *x, size_t ldx, size_t m, float *y, size_t ldy, int accumulate) {
    if (rows == 0 || m == 0) return;
    const fkv_matmul_kernel kernel = fkv_matmul_kernel_for(fkv_kernel_path(), format, cols, m);
    mm_args a = {
        .format = format, .w = (const uint8_t *)w, .rows = rows, .cols = cols,
        .row_bytes = fkv_row_bytes(format, cols), .x = x, .ldx = ldx, .m = m, .y = y, .ldy = ldy,
        .accumulate = accumulate, .xsum = NULL, .xq = NULL, .kernel = kernel,
    };
    // The kernels that regroup a Q4 block as d·Σq·x + m·Σx need the block sums of x. When their
    // scratch cannot be allocated the call falls back to the scalar kernel, which needs none: slower,
    // never a y left unwritten.
    float *xsum = NULL, xsum_small[256];   // decode (m = 1) never needs the heap
    if ((format == FKV_Q4_0 || format == FKV_Q4_1) && (kernel == FKV_MM_GENERIC || kernel == FKV_MM_Q4_ROWS4_M1 || kernel == FKV_MM_Q4_ROW1_M1)) {
        const size_t nb = cols / QK;
        xsum = m * nb <= 256 ? xsum_small : scratch_alloc(m * nb * sizeof(float));
        if (xsum) {
            for (size_t j = 0; j < m; j++)
                for (size_t b = 0; b < nb; b++) {
                    float s = 0.f;
                    for (int i = 0; i < QK; i++) s += x[j * ldx + b * QK + i];
                    xsum[j * nb + b] = s;
                }
            a.xsum = xsum;
        } else {
            a.kernel = FKV_MM_SCALAR;
        }
    }
#if defined(FKV_AVX2)
    float xq_small[1536], *xq = NULL;   // the decode shapes need no heap
    if (a.kernel == FKV_MM_Q4_ROWS4_M1 || a.kernel == FKV_MM_Q4_ROW1_M1) {
        xq = cols <= 1536 ? xq_small : scratch_alloc(cols * sizeof(float));
        if (xq) {
            q4_prescale(x, cols / QK, xq);
            a.xq = xq;
        } else {
            a.kernel = FKV_MM_SCALAR;
        }
    }
#endif
    // Four tasks per thread balance the threads when one starts late (the machine is shared), but
    // every task restarts the weight stream somewhere else. One vector against under a MiB of
    // weights (the 135M model's products) is over in ~30 µs, and there one contiguous slice per
    // thread streamed 16-19 % faster on the Zen 4 EPYC (576×576 and 1536×576 Q4_1); so for one
    // vector a task covers at least 256 KiB. Never fewer than 16 rows per task.
    const size_t threads = (size_t)fkv_get_threads();
    size_t tasks = threads * 4;
    if (m == 1) {
        size_t by_bytes = rows * a.row_bytes / (256u << 10);
        if (by_bytes < threads) by_bytes = threads;
        if (tasks > by_bytes) tasks = by_bytes;
    }
    if (tasks > rows / 16) tasks = rows / 16;
    if (tasks < 1) tasks = 1;
    a.rows_per_task = (rows + tasks - 1) / tasks;
    fkv_parallel_for(tasks, mm_task, &a);
    if (xsum && xsum != xsum_small) free(xsum);
#if defined(FKV_AVX2)
    if (xq && xq != xq_small) free(xq);
#endif
}
