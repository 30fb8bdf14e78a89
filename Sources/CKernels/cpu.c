// The one place that decides which instruction set the kernels use.
//
// The library is compiled for x86-64-v3 (AVX2+FMA+F16C); AVX-512 kernels are compiled per
// function with target attributes and may only run when the CPU has them. The path is detected
// once (cpuid via __builtin_cpu_supports), then lowered if FASTKV_KERNELS asks for it:
//   FASTKV_KERNELS=scalar   portable C (the reference the vector kernels are tested against)
//   FASTKV_KERNELS=avx2     AVX2+FMA+F16C kernels even where AVX-512 exists
//   FASTKV_KERNELS=avx512   the default where the CPU has AVX-512F/BW/VL/DQ
// Asking for a path the CPU lacks never crashes: it is clamped to the best available, with one
// line on stderr. An unknown value is reported the same way and ignored.
// Every kernel entry point reads the path once per call, in the calling thread, and hands it to
// its workers, so one call never mixes paths even if fkv_set_kernel_path runs meanwhile. Tests
// force a path for their own thread only (fkv_set_thread_kernel_path), so tests running in
// parallel in the same process keep the process-wide path.
#include "CKernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fkv_path best_path;
static _Atomic int current_path;
static _Thread_local int thread_path = -1;   // < 0: no override on this thread
static int gemm_openblas;   // FASTKV_GEMM=openblas keeps prefill on cblas_sgemm, for comparisons
static pthread_once_t detect_once = PTHREAD_ONCE_INIT;

static fkv_path detect(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
        && __builtin_cpu_supports("f16c");
    const int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
    if (avx512) return FKV_PATH_AVX512;
    if (avx2) return FKV_PATH_AVX2;
#else
    (void)avx2; (void)avx512;   // vector kernels not compiled into this build
#endif
#endif
    return FKV_PATH_SCALAR;
}

static void init_path(void) {
    best_path = detect();
    fkv_path chosen = best_path;
    const char *env = getenv("FASTKV_KERNELS");
    if (env && *env) {
        fkv_path wanted;
        if (!fkv_parse_kernel_path(env, &wanted)) {
            fprintf(stderr, "fastkv: FASTKV_KERNELS=%s is not scalar, avx2 or avx512; using %s\n", env,
                    fkv_kernel_path_name(best_path));
        } else if (wanted > best_path) {
            fprintf(stderr, "fastkv: FASTKV_KERNELS=%s but this CPU supports at most %s; using %s\n", env,
                    fkv_kernel_path_name(best_path), fkv_kernel_path_name(best_path));
        } else {
            chosen = wanted;
        }
    }
    atomic_store(&current_path, (int)chosen);
    const char *gemm = getenv("FASTKV_GEMM");
    gemm_openblas = gemm && strcmp(gemm, "openblas") == 0;
}

fkv_path fkv_best_kernel_path(void) {
    pthread_once(&detect_once, init_path);
    return best_path;
}

fkv_path fkv_kernel_path(void) {
    pthread_once(&detect_once, init_path);
    if (thread_path >= 0) return (fkv_path)thread_path;
    return (fkv_path)atomic_load_explicit(&current_path, memory_order_relaxed);
}

static fkv_path clamp(int path) {
    if (path < (int)FKV_PATH_SCALAR) return FKV_PATH_SCALAR;
    return path > (int)best_path ? best_path : (fkv_path)path;
}

fkv_path fkv_set_kernel_path(fkv_path path) {
    pthread_once(&detect_once, init_path);
    const fkv_path chosen = clamp((int)path);
    atomic_store(&current_path, (int)chosen);
    return chosen;
}

int fkv_set_thread_kernel_path(int path) {
    pthread_once(&detect_once, init_path);
    const int previous = thread_path;
    thread_path = path < 0 ? -1 : (int)clamp(path);
    return previous;
}

const char *fkv_kernel_path_name(fkv_path path) {
    switch (path) {
    case FKV_PATH_SCALAR: return "scalar";
    case FKV_PATH_AVX2: return "avx2";
    case FKV_PATH_AVX512: return "avx512";
    }
    return "unknown";
}

int fkv_parse_kernel_path(const char *name, fkv_path *path) {
    static const fkv_path all[] = {FKV_PATH_SCALAR, FKV_PATH_AVX2, FKV_PATH_AVX512};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(name, fkv_kernel_path_name(all[i])) == 0) { *path = all[i]; return 1; }
    return 0;
}

int fkv_gemm_available(void) {
    const fkv_path path = fkv_kernel_path();   // runs init_path first
    return !gemm_openblas && path >= FKV_PATH_AVX2;
}

static char cpu_name[49] = "unknown";
static pthread_once_t name_once = PTHREAD_ONCE_INIT;

static void read_cpu_name(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned int regs[12];
    if (__get_cpuid_max(0x80000000u, NULL) < 0x80000004u) return;
    for (unsigned int i = 0; i < 3; i++)
        __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
    char raw[49];
    memcpy(raw, regs, 48);
    raw[48] = 0;
    const char *start = raw;
    while (*start == ' ') start++;
    size_t n = strlen(start);
    while (n > 0 && start[n - 1] == ' ') n--;
    if (n == 0) return;
    memcpy(cpu_name, start, n);
    cpu_name[n] = 0;
#endif
}

const char *fkv_cpu_name(void) {
    pthread_once(&name_once, read_cpu_name);
    return cpu_name;
}
