// Packing weight matrices into the prefill GEMM's panels (gemm.c), once at load.
//
// Panels hold 16 output features; for each k step the 16 weights are contiguous. The compact forms
// take the stored format's own values, so no rounding happens here:
//   f32  [k][16] float                 from any stored format (dequantised row by row)
//   f16  [k][16] binary16              from F16 (the bits are copied)
//   bf16 [k][16] bfloat16              from BF16
//   q8_0 per 32 k: [16] f32 scale d, [32][16] int8 q          from Q8_0 (q) and Q4_0 (nibble − 8)
//   q8_1 per 32 k: [16] f32 d, [16] f32 min m, [32][16] int8  from Q4_1 (nibble; w = q·d + m)
// Features past n (the last panel's padding) are zero in every form.
#include "CKernels.h"
#include "half.h"

#include <string.h>

#define NR 16
#define QK 32

static inline uint16_t load_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

static inline float half_bits_to_float(uint16_t h) {
    return fkv_half_bits_to_float(h);
}

int fkv_gemm_panel_accepts(fkv_panel panel, fkv_format format) {
    switch (panel) {
    case FKV_PANEL_F32: return 1;
    case FKV_PANEL_F16: return format == FKV_F16;
    case FKV_PANEL_BF16: return format == FKV_BF16;
    case FKV_PANEL_Q8_0: return format == FKV_Q8_0 || format == FKV_Q4_0;
    case FKV_PANEL_Q8_1: return format == FKV_Q4_1;
    }
    return 0;
}

// One 32-step block of one feature (row `row`, block `b`) as int8 q, scale d and min m.
static void block_q8(fkv_format format, const uint8_t *rowp, size_t b, int8_t q[QK], float *d, float *m) {
    *m = 0.f;
    switch (format) {
    case FKV_Q8_0: {
        const uint8_t *r = rowp + b * 34;
        *d = half_bits_to_float(load_u16(r));
        for (int i = 0; i < QK; i++) q[i] = (int8_t)r[2 + i];
        return;
    }
    case FKV_Q4_0: {
        const uint8_t *r = rowp + b * 18;
        *d = half_bits_to_float(load_u16(r));
        for (int i = 0; i < 16; i++) { q[i] = (int8_t)((r[2 + i] & 0x0f) - 8); q[i + 16] = (int8_t)((r[2 + i] >> 4) - 8); }
        return;
    }
    case FKV_Q4_1: {
        const uint8_t *r = rowp + b * 20;
        *d = half_bits_to_float(load_u16(r));
        *m = half_bits_to_float(load_u16(r + 2));
        for (int i = 0; i < 16; i++) { q[i] = (int8_t)(r[4 + i] & 0x0f); q[i + 16] = (int8_t)(r[4 + i] >> 4); }
        return;
    }
    default: *d = 0.f; memset(q, 0, QK); return;
    }
}

int fkv_gemm_pack_weights(fkv_panel panel, fkv_format format, const void *w, size_t n, size_t k, float *scratch,
                          void *packed) {
    if (!fkv_gemm_panel_accepts(panel, format)) return 0;
    if (fkv_gemm_panel_bytes(panel, n, k) == 0 && n > 0 && k > 0) return 0;
    const uint8_t *src = (const uint8_t *)w;
    const size_t row_bytes = fkv_row_bytes(format, k), stride = fkv_gemm_panel_stride(panel, k);
    const size_t panels = (n + NR - 1) / NR;
    for (size_t pq = 0; pq < panels; pq++) {
        uint8_t *dst = (uint8_t *)packed + pq * stride;
        memset(dst, 0, stride);
        for (size_t j = 0; j < NR && pq * NR + j < n; j++) {
            const size_t row = pq * NR + j;
            const uint8_t *rowp = src + row * row_bytes;
            switch (panel) {
            case FKV_PANEL_F32:
                fkv_dequant_row(format, w, k, row, scratch);
                for (size_t p = 0; p < k; p++) memcpy(dst + p * 64 + j * 4, scratch + p, 4);
                break;
            case FKV_PANEL_F16: case FKV_PANEL_BF16:
                for (size_t p = 0; p < k; p++) memcpy(dst + p * 32 + j * 2, rowp + 2 * p, 2);
                break;
            case FKV_PANEL_Q8_0: case FKV_PANEL_Q8_1: {
                const size_t block = panel == FKV_PANEL_Q8_0 ? 576 : 640, qoff = panel == FKV_PANEL_Q8_0 ? 64 : 128;
                for (size_t b = 0; b < k / QK; b++) {
                    int8_t q[QK];
                    float d, m;
                    block_q8(format, rowp, b, q, &d, &m);
                    uint8_t *blk = dst + b * block;
                    memcpy(blk + j * 4, &d, 4);
                    if (panel == FKV_PANEL_Q8_1) memcpy(blk + 64 + j * 4, &m, 4);
                    for (int i = 0; i < QK; i++) blk[qoff + (size_t)i * NR + j] = (uint8_t)q[i];
                }
                break;
            }
            }
        }
    }
    return 1;
}
