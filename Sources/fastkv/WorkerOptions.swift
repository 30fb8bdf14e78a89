import ArgumentParser
import Foundation
import Tensors

/// Options shared by the cluster's long-running processes.
struct ClusterEndpointOptions: ParsableArguments {
    @Option(help: "The coordinator's ZeroMQ endpoint.")
    var coordinator: String = "tcp://127.0.0.1:5555"
}

/// Several worker processes share a small machine's cores: unless `--threads` or FASTKV_THREADS says
/// otherwise, a worker computes on one thread (OpenBLAS always runs single-threaded under the pool).
func configureWorkerThreads(_ requested: Int?) {
    let fromEnvironment = ProcessInfo.processInfo.environment["FASTKV_THREADS"].flatMap(Int.init)
    let threads = requested ?? fromEnvironment ?? 1
    ComputePool.configure(threads: threads)
}
