// A small thread pool for the compute kernels.
//
// Decode runs ~150 parallel regions per token, each a few microseconds long, and the machine is
// shared (other processes, other workers of the cluster), so the design never waits for a thread
// that has not started working:
//   * a region is published as one 64-bit word {generation:16 | tasks:24 | next:24}; any thread
//     claims a task with a compare-and-swap on that word, so a late or descheduled worker can
//     neither run a stale task nor hold the caller up;
//   * the caller takes part and, if no worker shows up, simply runs every task itself;
//   * the caller waits only for tasks that were actually claimed (done == tasks);
//   * idle workers spin briefly, then sleep on a condition variable.
// fn/ctx of a region stay valid while any of its tasks is unfinished, and the caller publishes a
// new region only after every task of the previous one finished, so a successful claim always
// reads the fn/ctx of its own region.
#include "CKernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define FKV_PAUSE() _mm_pause()
#else
#define FKV_PAUSE() ((void)0)
#endif

#define FKV_MAX_THREADS 64
#define FKV_SPIN_ROUNDS 4000          // ~50 µs of pause before a worker sleeps
#define FKV_MAX_TASKS ((1u << 24) - 1)

#define WORD(gen, tasks, next) (((uint64_t)(gen) << 48) | ((uint64_t)(tasks) << 24) | (uint64_t)(next))
#define WORD_GEN(w) ((unsigned)((w) >> 48))
#define WORD_TASKS(w) ((size_t)(((w) >> 24) & FKV_MAX_TASKS))
#define WORD_NEXT(w) ((size_t)((w) & FKV_MAX_TASKS))

static struct {
    pthread_mutex_t lock;        // held by the one caller that owns the pool during a region
    pthread_mutex_t sleep_lock;
    pthread_cond_t wake;
    _Atomic uint64_t region;     // {generation, tasks, next}
    atomic_size_t done;          // finished tasks of the current region
    atomic_int sleepers;
    fkv_task_fn fn;
    void *ctx;
    int threads;                 // total, including the caller
    int started;
} pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .sleep_lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
};

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

/// Claims and runs tasks of the region whose word is `w` until none is left. Returns how many ran.
static size_t run_region(uint64_t w, size_t worker) {
    size_t ran = 0;
    for (;;) {
        if (WORD_NEXT(w) >= WORD_TASKS(w)) return ran;
        uint64_t claimed = w + 1;
        if (!atomic_compare_exchange_weak_explicit(&pool.region, &w, claimed, memory_order_acquire,
                                                   memory_order_relaxed)) {
            if (WORD_GEN(w) != WORD_GEN(claimed - 1)) return ran;   // a newer region: not ours
            continue;                                                // lost a race; w reloaded
        }
        pool.fn(pool.ctx, WORD_NEXT(claimed - 1), worker);
        atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
        ran++;
        w = claimed;
    }
}

static void *worker_main(void *arg) {
    const size_t worker = (size_t)arg;
    for (;;) {
        int spins = 0;
        for (;;) {
            uint64_t w = atomic_load_explicit(&pool.region, memory_order_acquire);
            if (WORD_NEXT(w) < WORD_TASKS(w)) { run_region(w, worker); break; }
            if (++spins < FKV_SPIN_ROUNDS) { FKV_PAUSE(); continue; }
            pthread_mutex_lock(&pool.sleep_lock);
            atomic_fetch_add(&pool.sleepers, 1);
            uint64_t seen = atomic_load(&pool.region);   // seq_cst: pairs with the caller's store/load
            if (WORD_NEXT(seen) >= WORD_TASKS(seen)) pthread_cond_wait(&pool.wake, &pool.sleep_lock);
            atomic_fetch_sub(&pool.sleepers, 1);
            pthread_mutex_unlock(&pool.sleep_lock);
            spins = 0;
        }
    }
    return NULL;
}

static int default_threads(void) {
    const char *env = getenv("FASTKV_THREADS");
    if (env && *env) {
        int n = atoi(env);
        if (n >= 1 && n <= FKV_MAX_THREADS) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > FKV_MAX_THREADS) n = FKV_MAX_THREADS;
    return (int)n;
}

static void start_pool(void) {
    if (pool.threads == 0) pool.threads = default_threads();
    for (int i = 0; i < pool.threads - 1; i++) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, worker_main, (void *)(size_t)(i + 1));
        pthread_attr_destroy(&attr);
        if (rc != 0) { pool.threads = i + 1; break; }
    }
    pool.started = 1;
}

void fkv_set_threads(int threads) {
    pthread_mutex_lock(&pool.lock);
    if (!pool.started) {
        if (threads < 1) threads = 1;
        if (threads > FKV_MAX_THREADS) threads = FKV_MAX_THREADS;
        pool.threads = threads;
    }
    pthread_mutex_unlock(&pool.lock);
}

int fkv_get_threads(void) {
    pthread_once(&pool_once, start_pool);
    return pool.threads;
}

void fkv_parallel_for(size_t tasks, fkv_task_fn fn, void *ctx) {
    if (tasks == 0) return;
    pthread_once(&pool_once, start_pool);
    // One task, one thread, too many tasks, or another caller owns the pool: run inline.
    if (tasks == 1 || pool.threads == 1 || tasks > FKV_MAX_TASKS || pthread_mutex_trylock(&pool.lock) != 0) {
        for (size_t t = 0; t < tasks; t++) fn(ctx, t, 0);
        return;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(&pool.region, memory_order_relaxed);
    uint64_t w = WORD((WORD_GEN(old) + 1) & 0xffff, tasks, 0);
    atomic_store(&pool.region, w);   // seq_cst store then load: either a sleeper sees the region or we see it
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.sleep_lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.sleep_lock);
    }
    run_region(w, 0);
    while (atomic_load_explicit(&pool.done, memory_order_acquire) < tasks) FKV_PAUSE();
    pthread_mutex_unlock(&pool.lock);
}
