import CKernels

/// The process-wide compute thread pool (spin-then-sleep, see CKernels/pool.c).
public enum ComputePool {
    /// Threads used by the kernels, including the caller. `FASTKV_THREADS` overrides the default
    /// (the number of online CPUs); set it to 1 when several worker processes share the cores.
    public static var threadCount: Int { Int(fkv_get_threads()) }

    /// Sets the thread count; only effective before the first parallel call.
    public static func configure(threads: Int) { fkv_set_threads(Int32(threads)) }

    /// Runs `body(task, worker)` for every task in 0..<tasks across the pool and returns when all
    /// are done. `worker` < `threadCount` identifies the executing thread (for per-thread scratch).
    public static func run(tasks: Int, _ body: (_ task: Int, _ worker: Int) -> Void) {
        if tasks <= 0 { return }
        withoutActuallyEscaping(body) { escapable in
            let box = TaskBox(escapable)
            withExtendedLifetime(box) {
                fkv_parallel_for(tasks, { ctx, task, worker in
                    Unmanaged<TaskBox>.fromOpaque(ctx!).takeUnretainedValue().body(Int(task), Int(worker))
                }, Unmanaged.passUnretained(box).toOpaque())
            }
        }
    }
}

private final class TaskBox {
    let body: (Int, Int) -> Void
    init(_ body: @escaping (Int, Int) -> Void) { self.body = body }
}
