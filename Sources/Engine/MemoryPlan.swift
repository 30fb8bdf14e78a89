import Checkpoints
import Foundation
import Llama
import Tensors

/// What a model load will hold, summed from the checkpoint's tensor table and the model's shape
/// before anything is allocated, so a model that cannot fit is refused with the sizes named
/// instead of being killed by the kernel halfway through loading or prefill (issue 16).
///
/// The parts: the weights as held (stored format, mapped or copied), the prefill GEMM's panels, the
/// scratch of the longest prompt prefill may see (activations for `contextTokens` rows, per-thread
/// attention tiles, logits) and the KV budget (one sequence of `contextTokens` in the cache's
/// `--kv-dtype`, 4 or 2 bytes per element, or a decode worker's `--max-kv-bytes`).
public struct MemoryPlan: Sendable, Equatable, CustomStringConvertible {
    public var weightBytes: Int
    public var panelBytes: Int
    public var scratchBytes: Int
    public var kvBytes: Int
    /// Positions the KV and scratch are sized for (the context limit).
    public var contextTokens: Int
    /// Panel forms used ("f32", "f16", "q8_0", …); empty without panels.
    public var panelForms: [String]
    /// How the KV cache stores K and V (what `kvBytes` was counted at when it is one sequence).
    public var kvDType: KVDType = .f32

    public var totalBytes: Int { weightBytes + panelBytes + scratchBytes + kvBytes }

    /// KV cache bytes of one sequence of `tokens` positions (K and V, every layer and KV head) stored
    /// as `kvDType`.
    public static func kvBytes(config c: ModelConfig, tokens: Int, kvDType: KVDType = .f32) -> Int {
        c.layerCount * 2 * c.kvHeadCount * c.headDim * kvDType.bytesPerElement * tokens
    }

    /// Scratch of a prefill over `tokens` rows (LlamaModel.prefill's buffers and Attention.Scratch).
    public static func prefillScratchBytes(config c: ModelConfig, tokens n: Int, threads: Int) -> Int {
        let qkvWidth = (c.headCount + 2 * c.kvHeadCount) * c.headDim
        let chunk = min(n, 1024)
        let activations = n * (2 * c.hiddenSize + qkvWidth + c.headCount * c.headDim) + chunk * 3 * c.intermediateSize
        let attention = Attention.scratchFloats(groupSize: c.headCount / c.kvHeadCount, headDim: c.headDim, threads: threads)
        return 4 * (activations + attention + 2 * c.vocabularySize)
    }

    /// Scratch of decode steps over up to `sequences` sequences (logits and per-step activations).
    public static func decodeScratchBytes(config c: ModelConfig, sequences: Int) -> Int {
        let qkvWidth = (c.headCount + 2 * c.kvHeadCount) * c.headDim
        return 4 * sequences * (c.vocabularySize + qkvWidth + 3 * c.intermediateSize + 4 * c.hiddenSize)
    }

    /// - Throws: `EngineError.insufficientMemory` when `totalBytes` exceeds `available`.
    public func check(against available: AvailableMemory, path: String) throws {
        guard totalBytes > available.bytes else { return }
        throw EngineError.insufficientMemory(path: path, plan: self, available: available)
    }

    public var description: String {
        var parts = ["weights \(Self.format(weightBytes))"]
        if panelBytes > 0 { parts.append("prefill panels \(Self.format(panelBytes)) (\(panelForms.joined(separator: ", ")))") }
        parts.append("scratch \(Self.format(scratchBytes))")
        parts.append("KV \(Self.format(kvBytes)) (\(contextTokens) tokens, \(kvDType.rawValue))")
        return "\(Self.format(totalBytes)) = " + parts.joined(separator: " + ")
    }

    /// "1.50 GiB (1610612736 B)": readable and exact.
    static func format(_ bytes: Int) -> String {
        let gib = Double(bytes) / 1_073_741_824
        let text = gib >= 1 ? String(format: "%.2f GiB", gib) : String(format: "%.1f MiB", Double(bytes) / 1_048_576)
        return "\(text) (\(bytes) B)"
    }
}
