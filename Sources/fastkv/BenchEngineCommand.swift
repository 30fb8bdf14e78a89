import ArgumentParser
import Engine
import Foundation
import Llama
import Tensors

struct BenchEngineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-engine",
        abstract: "Measure prefill and decode speed of the engine (median of several runs) and peak RSS.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Prompt lengths for prefill throughput.")
    var lengths: String = "512,2048,8192"
    @Option(help: "Context lengths after which decode speed is measured.")
    var decodeContexts: String = "512,2048,4096"
    @Option(help: "Decode steps timed per run.")
    var decodeTokens: Int = 64
    @Option(help: "Runs per figure (the median is reported).")
    var runs: Int = 3
    @Option(help: "Seed of the synthetic prompt tokens.")
    var seed: UInt64 = 1

    func run() throws {
        try runReportingErrors {
            let prefillLengths = try parseList(lengths, "--lengths")
            let contexts = try parseList(decodeContexts, "--decode-contexts")
            guard runs >= 1, decodeTokens >= 1 else { throw ValidationError("--runs and --decode-tokens must be ≥ 1") }
            let loaded = try modelOptions.load()
            let model = loaded.model
            let c = model.config
            print("model: \(loaded.path.path) (\(c.layerCount) layers, hidden \(c.hiddenSize), heads \(c.headCount)/\(c.kvHeadCount), vocab \(c.vocabularySize))")
            print("threads: \(ComputePool.threadCount), runs per figure: \(runs) (median)")
            print("cpu: \(KernelPath.cpuName), kernels: \(KernelPath.current) (best \(KernelPath.best))")
            var rng = SplitMix(seed)
            func prompt(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(256 + Int(rng.next() % UInt64(c.vocabularySize - 256))) } }
            // Warm up once (page in weights, start threads).
            var warm = FullKVPolicy()
            _ = try model.prefill(tokens: prompt(64), cache: model.makeCache(capacity: 64), policy: &warm)

            print("\n| prefill tokens | ms (median) | tok/s | CPU s per run |")
            print("|---:|---:|---:|---:|")
            for n in prefillLengths {
                guard n <= c.contextLength else { throw ValidationError("length \(n) exceeds the context \(c.contextLength)") }
                let tokens = prompt(n)
                var times: [Double] = [], cpu: [Double] = []
                for _ in 0..<runs {
                    var policy = FullKVPolicy()
                    let cache = model.makeCache(capacity: n)
                    let t0 = ContinuousClock.now, c0 = processCPUSeconds()
                    _ = try model.prefill(tokens: tokens, cache: cache, policy: &policy)
                    times.append((ContinuousClock.now - t0).milliseconds)
                    cpu.append(processCPUSeconds() - c0)
                }
                let ms = median(times)
                print(String(format: "| %d | %.1f | %.1f | %.2f |", n, ms, Double(n) / ms * 1000, median(cpu)))
            }

            print("\n| decode after context | ms/token (median) | tok/s | fastest step ms |")
            print("|---:|---:|---:|---:|")
            for ctx in contexts {
                guard ctx + decodeTokens <= c.contextLength else { throw ValidationError("context \(ctx) + decode exceeds the model context") }
                let tokens = prompt(ctx)
                var rates: [Double] = []
                var fastest = Double.infinity
                for _ in 0..<runs {
                    var policy = FullKVPolicy()
                    let cache = model.makeCache(capacity: ctx + decodeTokens)
                    let out = try model.prefill(tokens: tokens, cache: cache, policy: &policy)
                    var token = Sampler.argmax(out.logits!)
                    let t0 = ContinuousClock.now
                    for _ in 0..<decodeTokens {
                        let s0 = ContinuousClock.now
                        token = Sampler.argmax(try model.decode(tokens: [token], caches: [cache])[0])
                        fastest = min(fastest, (ContinuousClock.now - s0).milliseconds)
                    }
                    rates.append(Double(decodeTokens) / ((ContinuousClock.now - t0).milliseconds / 1000))
                }
                let r = median(rates)
                print(String(format: "| %d | %.2f | %.1f | %.2f |", ctx, 1000 / r, r, fastest))
            }
            let weightsMB = Double(model.weights.f32WeightBytes) / 1e6
            print(String(format: "\npeak RSS: %.1f MB (f32 weight bytes %.1f MB)", Double(peakRSSBytes()) / 1e6, weightsMB))
        }
    }
}

func parseList(_ text: String, _ flag: String) throws -> [Int] {
    let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
        throw ValidationError("\(flag) takes a comma-separated list of positive integers, got '\(text)'")
    }
    return values.map { $0! }
}

func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// CPU time used by this process so far (all threads), in seconds. On a shared machine with CPU
/// steal, CPU time shows the work done even when wall time is inflated by other processes.
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Peak resident set size of this process (VmHWM), in bytes.
func peakRSSBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb * 1024
    }
    return 0
}

struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
