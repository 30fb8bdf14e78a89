// Register-only FMA throughput of this CPU, per instruction set and thread count: the ceiling a
// GEMM on it can reach (no loads, 12 independent chains per thread to cover the FMA latency).
//   cc -O2 -pthread scripts/fma-peak.c -o fma-peak && ./fma-peak [threads] [seconds]
// Prints GFLOP/s (2 flops per lane per FMA) for AVX2+FMA and, where the CPU has it, AVX-512F.
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct { int wide; long iters; double sink; } job;

// Twelve named accumulators: an array would live in memory and time the store-to-load latency.
// One function per instruction set, from one body: vector type, intrinsics and the asm constraint.
#define DEFINE_RUN(name, isa, vec, set1, fmadd, add, zero, constraint)                              \
    __attribute__((target(isa))) static vec name##_chains(long iters) {                          \
        const vec b = set1(0.999999f), c = set1(1e-7f);                                            \
        vec a0 = set1(0), a1 = set1(1), a2 = set1(2), a3 = set1(3), a4 = set1(4), a5 = set1(5);   \
        vec a6 = set1(6), a7 = set1(7), a8 = set1(8), a9 = set1(9), a10 = set1(10), a11 = set1(11); \
        for (long n = 0; n < iters; n++) {                                                         \
            a0 = fmadd(a0, b, c); a1 = fmadd(a1, b, c); a2 = fmadd(a2, b, c); a3 = fmadd(a3, b, c); \
            a4 = fmadd(a4, b, c); a5 = fmadd(a5, b, c); a6 = fmadd(a6, b, c); a7 = fmadd(a7, b, c); \
            a8 = fmadd(a8, b, c); a9 = fmadd(a9, b, c); a10 = fmadd(a10, b, c); a11 = fmadd(a11, b, c); \
            __asm__ volatile("" : constraint(a0), constraint(a1), constraint(a2), constraint(a3));  \
        }                                                                                          \
        vec s = zero();                                                                            \
        s = add(s, add(add(add(a0, a1), add(a2, a3)), add(add(a4, a5), add(a6, a7))));             \
        return add(s, add(add(a8, a9), add(a10, a11)));                                            \
    }

DEFINE_RUN(avx2, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_setzero_ps, "+x")
DEFINE_RUN(avx512, "avx512f", __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_setzero_ps, "+v")

__attribute__((target("avx2,fma"))) static double run_avx2(long iters) {
    float out[8];
    _mm256_storeu_ps(out, avx2_chains(iters));
    return out[0];
}

__attribute__((target("avx512f"))) static double run_avx512(long iters) {
    return _mm512_reduce_add_ps(avx512_chains(iters));
}

static void *worker(void *p) {
    job *j = p;
    j->sink = j->wide ? run_avx512(j->iters) : run_avx2(j->iters);
    return NULL;
}

static double gflops(int wide, int threads, double seconds) {
    long iters = 1 << 20;
    for (;;) {   // grow the loop until one pass takes about `seconds`
        pthread_t t[64];
        job jobs[64];
        double start = now();
        for (int i = 0; i < threads; i++) {
            jobs[i] = (job){wide, iters, 0};
            pthread_create(&t[i], NULL, worker, &jobs[i]);
        }
        for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
        double dt = now() - start;
        if (dt >= seconds) return threads * (double)iters * 12 * (wide ? 16 : 8) * 2 / dt / 1e9;
        iters = (long)(iters * (seconds / (dt > 1e-3 ? dt : 1e-3)) * 1.1);
    }
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    double seconds = argc > 2 ? atof(argv[2]) : 1.0;
    if (threads < 1 || threads > 64 || !(seconds > 0)) {
        fprintf(stderr, "usage: fma-peak [threads 1-64] [seconds > 0]\n");
        return 2;
    }
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        fprintf(stderr, "this CPU has no AVX2+FMA\n");
        return 1;
    }
    printf("threads %d: avx2+fma %.1f GFLOP/s", threads, gflops(0, threads, seconds));
    if (__builtin_cpu_supports("avx512f")) printf(", avx512f %.1f GFLOP/s", gflops(1, threads, seconds));
    printf("\n");
    return 0;
}
