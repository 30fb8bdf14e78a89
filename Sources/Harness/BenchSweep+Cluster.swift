import Foundation
import RequestVocabulary

extension BenchSweep {
    /// The cluster batches: `plan.requests` submits per (config, length), at most `plan.concurrency`
    /// in flight. Each config first sends one small warm-up request; a failure there means the
    /// cluster is not usable and ends the sweep. A failed measured request only counts as an error.
    func runCluster(pool: SubmitProcessPool, files: [Int: URL], requestDone: (BenchMode, BenchConfig, Int) -> Void,
                    requestFailed: (BenchConfig, Int, HarnessError) -> Void, emit: (BenchRow) throws -> Void) throws {
        func arguments(_ config: BenchConfig, _ n: Int, maxTokens: Int) -> [String] {
            ["--prompt-file", files[n]!.path, "--max-tokens", String(maxTokens), "--wire-dtype", plan.wireDType.rawValue]
                + config.submitArguments
        }
        let warm = try pool.run(plan.configs.map { arguments($0, BenchPrompts.warmUpTokens, maxTokens: 2) }) { _ in }
        for (config, outcome) in zip(plan.configs, warm.outcomes) {
            if case let .failure(error) = outcome { throw HarnessError.warmUpFailed(config: config.label, reason: "\(error)") }
        }
        for n in plan.lengths {
            for config in plan.configs {
                let batch = try pool.run(Array(repeating: arguments(config, n, maxTokens: plan.maxTokens), count: plan.requests)) { _ in
                    requestDone(.cluster, config, n)
                }
                var samples: [BenchSample] = [], errors = 0
                for outcome in batch.outcomes {
                    switch outcome {
                    case let .success(sample): samples.append(sample)
                    case let .failure(error):
                        errors += 1
                        requestFailed(config, n, error)
                    }
                }
                try emit(BenchRow(mode: .cluster, config: config, targetTokens: n, samples: samples, errors: errors,
                                  wallMs: batch.wallMs))
            }
        }
    }
}
