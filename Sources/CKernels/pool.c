// A tiny spin-then-sleep thread pool. Decode issues ~150 parallel regions per token, each a few
// microseconds long, so waking sleeping threads through a condition variable every time would
// cost more than the work; workers spin briefly on a generation counter before they sleep.
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
#define FKV_SPIN_ROUNDS 20000

static struct {
    pthread_mutex_t lock;       // held by the one caller that owns the pool during a region
    pthread_mutex_t sleep_lock;
    pthread_cond_t wake;
    atomic_ulong generation;
    atomic_size_t next_task;
    atomic_size_t done_tasks;
    atomic_int finished_workers; // workers that have left the current region
    size_t tasks;
    fkv_task_fn fn;
    void *ctx;
    int threads;                // total, including the caller
    int started;
    pthread_t workers[FKV_MAX_THREADS];
} pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .sleep_lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .threads = 0,
};

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void run_tasks(size_t worker) {
    for (;;) {
        size_t t = atomic_fetch_add_explicit(&pool.next_task, 1, memory_order_relaxed);
        if (t >= pool.tasks) break;
        pool.fn(pool.ctx, t, worker);
        atomic_fetch_add_explicit(&pool.done_tasks, 1, memory_order_release);
    }
}

static void *worker_main(void *arg) {
    const size_t worker = (size_t)arg;
    // Workers are created before the first region starts (generation 0). Reading the counter here
    // instead could miss a region that began before this thread got scheduled, and the caller
    // waits for every worker to finish each region.
    unsigned long seen = 0;
    for (;;) {
        unsigned long g;
        int spins = 0;
        while ((g = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen) {
            if (++spins < FKV_SPIN_ROUNDS) { FKV_PAUSE(); continue; }
            pthread_mutex_lock(&pool.sleep_lock);
            while ((g = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen)
                pthread_cond_wait(&pool.wake, &pool.sleep_lock);
            pthread_mutex_unlock(&pool.sleep_lock);
            break;
        }
        seen = g;
        run_tasks(worker);
        // The caller waits for every worker to leave the region before it returns, so the region's
        // fn/ctx/tasks stay valid and no worker can run into the next region with stale fields.
        atomic_fetch_add_explicit(&pool.finished_workers, 1, memory_order_release);
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
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&pool.workers[i], &attr, worker_main, (void *)(size_t)(i + 1)) != 0) {
            pool.threads = i + 1;   // run with what we have
            pthread_attr_destroy(&attr);
            break;
        }
        pthread_attr_destroy(&attr);
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
    // Single task, single thread, or another caller owns the pool: run inline. Never blocks.
    if (tasks == 1 || pool.threads == 1 || pthread_mutex_trylock(&pool.lock) != 0) {
        for (size_t t = 0; t < tasks; t++) fn(ctx, t, 0);
        return;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    pool.tasks = tasks;
    atomic_store_explicit(&pool.done_tasks, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.next_task, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.finished_workers, 0, memory_order_relaxed);
    pthread_mutex_lock(&pool.sleep_lock);
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.sleep_lock);
    run_tasks(0);
    while (atomic_load_explicit(&pool.finished_workers, memory_order_acquire) < pool.threads - 1) FKV_PAUSE();
    pthread_mutex_unlock(&pool.lock);
}
