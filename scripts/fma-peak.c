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

// Twelve named accumulators (an array would live in memory and time the store-to-load latency).
#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

__attribute__((target("avx2,fma"))) static double run_avx2(long iters) {
    const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
#define DECL(i) __m256 a##i = _mm256_set1_ps((float)i);
#define STEP(i) a##i = _mm256_fmadd_ps(a##i, b, c);
#define SUM(i) s = _mm256_add_ps(s, a##i);
    CHAINS(DECL)
    for (long n = 0; n < iters; n++) {
        CHAINS(STEP)
        __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5));
    }
    __m256 s = _mm256_setzero_ps();
    CHAINS(SUM)
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0];
#undef DECL
#undef STEP
#undef SUM
}

__attribute__((target("avx512f"))) static double run_avx512(long iters) {
    const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
#define DECL(i) __m512 a##i = _mm512_set1_ps((float)i);
#define STEP(i) a##i = _mm512_fmadd_ps(a##i, b, c);
#define SUM(i) s = _mm512_add_ps(s, a##i);
    CHAINS(DECL)
    for (long n = 0; n < iters; n++) {
        CHAINS(STEP)
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5));
    }
    __m512 s = _mm512_setzero_ps();
    CHAINS(SUM)
    return _mm512_reduce_add_ps(s);
#undef DECL
#undef STEP
#undef SUM
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
