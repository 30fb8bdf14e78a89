import Checkpoints
import Engine
import FastKV
import Foundation
import Harness
import RequestVocabulary
import TestSupport
import Testing

/// `fastkv headscores` on the tiny random model (which cannot retrieve, so its trials are scored
/// with `scoreAllTrials`), the checks on its settings, and loading files by fingerprint.
@Suite(.serialized) struct HeadScoreDetectionTests {
    static let tiny: Result<(LoadedModel, TemporaryDirectory), Error> = Result {
        let dir = try TemporaryDirectory()
        // The toy vocabulary has no merges, so a passkey prompt is ~300 tokens: a longer context.
        var config = TinyLlama.defaultConfig
        config.contextLength = 1024
        try TinyLlama(config: config, seed: 5).writeHF(to: dir.file("hf"))
        return (try LoadedModel.load(path: dir.file("hf").path), dir)
    }

    @Test func tinyModelGivesAValidDeterministicFile() throws {
        let (loaded, dir) = try Self.tiny.get()
        let detection = try HeadScoreDetection(model: loaded, lengths: [400, 300], depthCount: 2, seed: 3, scoreAllTrials: true)
        let first = try detection.run()
        let second = try detection.run()
        #expect(first.encoded() == second.encoded(), "the same trials must give the same bytes")
        let c = loaded.config
        #expect(first.fingerprint == loaded.fingerprint)
        #expect(first.layerCount == c.layerCount && first.headCount == c.headCount && first.kvHeadCount == c.kvHeadCount)
        #expect(first.scores.count == c.layerCount && first.scores.allSatisfy { $0.count == c.headCount })
        #expect(first.trials.lengths == [300, 400] && first.trials.attempted == 4 && first.trials.accepted == 4)
        #expect(first.scores.joined().allSatisfy { $0 >= 0 } && first.scores.joined().contains { $0 > 0 },
                "some head must attend inside the needle span: \(first.scores)")
        // The file round-trips and is what `--head-scores` loads for this model.
        let path = dir.file("scores.json").path
        try first.encoded().write(to: URL(fileURLWithPath: path))
        #expect(try HeadImportance.load(path: path) == first)
        let withScores = try LoadedModel.load(path: loaded.path.path, headScoresPath: path)
        #expect(withScores.headImportance == first)
        // A different seed moves the needles, so the scores change.
        let other = try HeadScoreDetection(model: loaded, lengths: [300, 400], depthCount: 2, seed: 4, scoreAllTrials: true).run()
        #expect(other.scores != first.scores)
    }

    @Test func badSettingsAreRejected() throws {
        let (loaded, _) = try Self.tiny.get()
        #expect(throws: HarnessError.invalid(.lengths, "must name at least one length")) {
            try HeadScoreDetection(model: loaded, lengths: [])
        }
        #expect(throws: HarnessError.invalid(.lengths, "must all be ≥ 32 tokens")) {
            try HeadScoreDetection(model: loaded, lengths: [16])
        }
        #expect(throws: HarnessError.invalid(.lengths, "must not repeat a length")) {
            try HeadScoreDetection(model: loaded, lengths: [64, 64])
        }
        #expect(throws: HarnessError.invalid(.depths, "must be in 1...64")) {
            try HeadScoreDetection(model: loaded, lengths: [300], depthCount: 0)
        }
        #expect(throws: HarnessError.exceedsContext(length: 4096, extra: 16, extraSetting: nil, contextLength: 1024)) {
            try HeadScoreDetection(model: loaded, lengths: [4096])
        }
        // The reference rule: only trials answered right count; the random model answers none.
        #expect(throws: HarnessError.noTrialAnswered(attempted: 1)) {
            try HeadScoreDetection(model: loaded, lengths: [300], depthCount: 1).run()
        }
    }

    @Test func filesForOtherModelsAndMissingScoresAreClearErrors() throws {
        let (loaded, dir) = try Self.tiny.get()
        var h = try HeadScoreDetection(model: loaded, lengths: [300], depthCount: 1, scoreAllTrials: true).run()
        h.fingerprint = "llama-0x0-other"
        let path = dir.file("other.json").path
        try h.encoded().write(to: URL(fileURLWithPath: path))
        #expect(throws: HeadScoresError.wrongModel(source: path, expected: loaded.fingerprint, found: "llama-0x0-other")) {
            try LoadedModel.load(path: loaded.path.path, headScoresPath: path)
        }
        #expect(throws: HeadScoresError.unreadable(path: dir.file("absent.json").path)) {
            try LoadedModel.load(path: loaded.path.path, headScoresPath: dir.file("absent.json").path)
        }
        // No file ships for the tiny model: headkv names the model and the way out.
        #expect(loaded.headImportance == nil)
        #expect(throws: HeadScoresError.missing(fingerprint: loaded.fingerprint)) {
            try Generator(loaded).generate(promptTokens: [5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
                                           sampling: try SamplingParameters(maxTokens: 1),
                                           compression: try CompressionConfig(method: .headKV))
        }
    }
}

extension ModelTests {
    /// The file shipped for SmolLM2 is found by fingerprint and drives `headkv` generation.
    @Test func shippedScoresLoadForSmolLM2() throws {
        let loaded = try ModelTests.model()
        let h = try #require(loaded.headImportance, "no shipped head scores for \(loaded.fingerprint)")
        #expect(h.layerCount == 30 && h.headCount == 9 && h.kvHeadCount == 3 && h.trials.accepted > 0)
        let ids = try loaded.encodePrompt(String(repeating: "The grass is green. ", count: 40) + "The sky is", chat: false)
        let r = try Generator(loaded).generate(promptTokens: ids, sampling: try SamplingParameters(maxTokens: 2),
                                               compression: try CompressionConfig(method: .headKV, retainRate: 0.2))
        let counts = r.prefill.cache.layers.map(\.counts)
        #expect(counts.contains { Set($0).count > 1 }, "HeadKV layers should be ragged: \(counts)")
        #expect(r.keptEntries < r.fullEntries)
    }
}
