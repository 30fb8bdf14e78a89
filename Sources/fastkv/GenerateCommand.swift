import ArgumentParser
import Engine
import FastKV
import Foundation

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Generate a continuation in this process (no cluster).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var promptOptions: PromptOptions
    @OptionGroup var samplingOptions: SamplingOptions
    @OptionGroup var compressionOptions: CompressionOptions

    @Option(help: "Write every KV/TSP selection of prefill as JSON.")
    var selectionOut: String?

    @Option(help: "Write the last prompt position's logits as a float32 .npy of shape [vocab].")
    var logitsOut: String?

    @Flag(help: "Print one JSON object at the end instead of streaming text.")
    var json = false

    func run() throws {
        try runReportingErrors {
            let loaded = try modelOptions.load()
            let ids = try loaded.encodePrompt(try promptOptions.text(), chat: promptOptions.chat)
            let compression = try compressionOptions.config()
            try compression.validate(layerCount: loaded.config.layerCount)
            let result = try Generator(loaded).generate(
                promptTokens: ids, sampling: try samplingOptions.parameters(), compression: compression,
                onText: { piece in
                    if !json {
                        FileHandle.standardOutput.write(Data(piece.utf8))
                    }
                })
            if let logitsOut { try NpyWriter.writeFloat32(result.lastPromptLogits, to: logitsOut) }
            if let selectionOut {
                do { try result.prefill.record.jsonData().write(to: URL(fileURLWithPath: selectionOut)) } catch {
                    throw EngineError.invalidRequest("cannot write \(selectionOut): \(error.localizedDescription)")
                }
            }
            if json {
                print(try GenerateReport(result).jsonString())
            } else {
                print("")
                printError(GenerateReport(result).statsLine)
            }
        }
    }
}

/// The machine-readable outcome of `generate` (keys are part of the CLI contract).
struct GenerateReport: Encodable {
    var text: String
    var tokens: [Int32]
    var prompt_tokens: Int
    var prefill_ms: Double
    var prefill_tokens_per_s: Double
    var ttft_ms: Double
    var decode_tokens_per_s: Double
    var decode_ms: Double
    var generated_tokens: Int
    var stop_reason: String
    var method: String
    var kv_kept_entries: Int
    var kv_full_entries: Int
    var kv_kept_bytes: Int
    var kv_full_bytes: Int
    /// The cache's element type, which the two byte counts are at ("f32" or "f16").
    var kv_dtype: String
    var prefill_flops_skipped_share: Double

    init(_ r: GenerationResult) {
        text = r.text
        tokens = r.tokens
        prompt_tokens = r.promptTokens
        prefill_ms = r.prefillMilliseconds
        prefill_tokens_per_s = r.prefillMilliseconds > 0 ? Double(r.promptTokens) / (r.prefillMilliseconds / 1000) : 0
        ttft_ms = r.timeToFirstTokenMilliseconds
        decode_tokens_per_s = r.decodeTokensPerSecond
        decode_ms = r.decodeMilliseconds
        generated_tokens = r.tokens.count
        stop_reason = r.finishReason.rawValue
        method = r.method
        kv_kept_entries = r.keptEntries
        kv_full_entries = r.fullEntries
        kv_kept_bytes = r.keptBytes
        kv_full_bytes = r.fullBytes
        kv_dtype = r.kvDType.rawValue
        prefill_flops_skipped_share = r.prefill.skippedFlopShare
    }

    var statsLine: String {
        String(format: "[stats] prompt tokens %d | prefill %.1f ms (%.1f tok/s) | decode %.1f tok/s (%d tokens) | stop %@\n"
               + "[kv] %@: kept %d of %d entries (%.1f%%), %.2f of %.2f MB at %@ | prefill FLOPs skipped %.1f%%",
               prompt_tokens, prefill_ms, prefill_tokens_per_s, decode_tokens_per_s, generated_tokens, stop_reason,
               method, kv_kept_entries, kv_full_entries, 100 * Double(kv_kept_entries) / Double(max(kv_full_entries, 1)),
               Double(kv_kept_bytes) / 1e6, Double(kv_full_bytes) / 1e6, kv_dtype, 100 * prefill_flops_skipped_share)
    }

    func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
