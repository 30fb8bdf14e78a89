// Checks fkv_prefill_attention's three paths against a Double reference in a build where the
// AVX-512 intrinsics are SIMDe's portable versions (scripts/check-avx512-emulated.sh makes that
// build), so the AVX-512 tiles can be checked on a CPU without AVX-512. Exits 1 on a mismatch.
#include "CKernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

extern int emulated_path;   // set by the rewritten prefill_attention.c

static double worst_error(size_t n, size_t heads, size_t kv_heads, size_t d, const float *qkv, const float *out) {
    const size_t ld = (heads + 2 * kv_heads) * d, group = heads / kv_heads;
    double worst = 0, *s = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t h = 0; h < heads; h++) {
            const size_t kv = h / group;
            double mx = -INFINITY, sum = 0;
            for (size_t j = 0; j <= i; j++) {
                double a = 0;
                for (size_t c = 0; c < d; c++) a += (double)qkv[i * ld + h * d + c] * qkv[j * ld + (heads + kv) * d + c];
                s[j] = a / sqrt((double)d);
                if (s[j] > mx) mx = s[j];
            }
            for (size_t j = 0; j <= i; j++) { s[j] = exp(s[j] - mx); sum += s[j]; }
            for (size_t c = 0; c < d; c++) {
                double o = 0;
                for (size_t j = 0; j <= i; j++) o += s[j] * qkv[j * ld + (heads + kv_heads + kv) * d + c];
                const double e = fabs(o / sum - out[i * heads * d + h * d + c]);
                if (!(e <= worst)) worst = e;
            }
        }
    free(s);
    return worst;
}

int main(void) {
    static const size_t cases[][4] = {   // n, heads, KV heads, d
        {1, 4, 4, 64}, {63, 3, 1, 64}, {65, 9, 3, 64}, {1000, 12, 3, 128}, {130, 8, 2, 80}, {200, 4, 1, 13}, {129, 12, 3, 96},
    };
    int failed = 0;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const size_t n = cases[ci][0], heads = cases[ci][1], kv_heads = cases[ci][2], d = cases[ci][3];
        const size_t ld = (heads + 2 * kv_heads) * d, per = fkv_prefill_attention_scratch_floats(heads / kv_heads, d);
        float *qkv = malloc(n * ld * sizeof(float)), *out = malloc(n * heads * d * sizeof(float));
        float *scratch = aligned_alloc(64, (per * fkv_get_threads() * sizeof(float) + 63) / 64 * 64);
        srand((unsigned)ci + 1);
        for (size_t i = 0; i < n * ld; i++) qkv[i] = ((float)rand() / (float)RAND_MAX * 2 - 1) * 2;
        for (int path = FKV_PATH_SCALAR; path <= FKV_PATH_AVX512; path++) {
            emulated_path = path;
            for (size_t i = 0; i < n * heads * d; i++) out[i] = NAN;
            fkv_prefill_attention(n, heads, kv_heads, d, qkv, ld, qkv + heads * d, ld, qkv + (heads + kv_heads) * d, ld,
                                  1.f / sqrtf((float)d), out, heads * d, scratch);
            const double e = worst_error(n, heads, kv_heads, d, qkv, out);
            const int ok = e <= 1e-5;
            failed |= !ok;
            printf("%s n %zu heads %zu/%zu d %zu path %s: max |err| %.3g (tolerance 1e-5)\n", ok ? "ok  " : "FAIL", n,
                   heads, kv_heads, d, fkv_kernel_path_name((fkv_path)path), e);
        }
        free(qkv); free(out); free(scratch);
    }
    return failed;
}
