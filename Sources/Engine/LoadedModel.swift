import Checkpoints
import FastKV
import Foundation
import Llama
import RequestVocabulary
import Tensors
import Tokenization

/// A model ready to serve: weights, tokenizer, chat format and a fingerprint of all three.
public final class LoadedModel: @unchecked Sendable {
    public let path: URL
    public let model: LlamaModel
    public let tokenizer: Tokenizer
    public let chatFormat: ChatFormat?
    /// The system prompt the model's template inserts when a conversation has none (SmolLM2's
    /// "You are a helpful AI assistant named SmolLM, …"), as HF `apply_chat_template` does.
    public let defaultSystemPrompt: String?
    /// Identifies architecture, dimensions and weights; two processes that disagree on it must not
    /// exchange KV.
    public let fingerprint: String
    /// Head-importance scores for HeadKV: from `--head-scores` when given, else the file shipped for
    /// this fingerprint (`ShippedHeadScores`), else nil (`headkv` is then refused).
    public let headImportance: HeadImportance?

    public var config: ModelConfig { model.config }
    /// The memory plan the load was checked against.
    public internal(set) var memoryPlan: MemoryPlan?

    /// How a process loads its model: what it holds for prefill, how far its context goes, and
    /// how much KV it plans for. The memory plan is computed from these before loading.
    public struct Options: Sendable {
        /// The prefill GEMM's panels; nil for none (a process that never runs prefill).
        public var prefillWeights: PrefillWeights?
        /// Serve at most this many positions (nil: the checkpoint's context length).
        public var contextLimit: Int?
        /// KV bytes to plan for; nil means one sequence of the full context (a single-process
        /// engine or a prefill worker), a decode worker passes its `--max-kv-bytes`.
        public var kvBudgetBytes: Int?
        /// Sequences decoded in one step (decode scratch).
        public var decodeSequences: Int
        /// Overrides the available memory (tests); nil reads `AvailableMemory.current()`.
        public var availableMemory: AvailableMemory?
        /// A `fastkv headscores` file for HeadKV instead of the one shipped for this model.
        public var headScoresPath: String?
        /// How this process's KV caches store K and V (`--kv-dtype`): the bytes the plan counts per
        /// KV element and what `makeCache` and a decode worker's installs use.
        public var kvDType: KVDType

        public init(prefillWeights: PrefillWeights? = .auto, contextLimit: Int? = nil, kvBudgetBytes: Int? = nil,
                    decodeSequences: Int = 1, availableMemory: AvailableMemory? = nil, headScoresPath: String? = nil,
                    kvDType: KVDType = .f32) {
            self.headScoresPath = headScoresPath
            self.kvDType = kvDType
            self.prefillWeights = prefillWeights
            self.contextLimit = contextLimit
            self.kvBudgetBytes = kvBudgetBytes
            self.decodeSequences = decodeSequences
            self.availableMemory = availableMemory
        }
    }

    /// Opens a GGUF file or an HF directory.
    /// - Parameters:
    ///   - forPrefill: keep the panels that make prefill fast; a process that only tokenizes and
    ///     routes (the coordinator) passes false, holds no panels and plans no KV.
    ///   - headScoresPath: a `fastkv headscores` file to use instead of the shipped one; it must have
    ///     been measured on this model (same fingerprint).
    public static func load(path: String, forPrefill: Bool = true, headScoresPath: String? = nil) throws -> LoadedModel {
        var options = forPrefill ? Options() : Options(prefillWeights: nil, kvBudgetBytes: 0)
        options.headScoresPath = headScoresPath
        return try load(path: path, options: options)
    }

    /// The memory plan of loading `checkpoint` with `options` (nothing is allocated).
    public static func memoryPlan(checkpoint: any Checkpoint, options: Options) throws -> MemoryPlan {
        let weights = try LlamaWeights.plannedBytes(checkpoint: checkpoint, prefill: options.prefillWeights)
        var c = checkpoint.config
        if let limit = options.contextLimit { c.contextLength = min(c.contextLength, limit) }
        let prefillScratch = options.prefillWeights == nil ? 0
            : MemoryPlan.prefillScratchBytes(config: c, tokens: c.contextLength, threads: ComputePool.threadCount)
        let scratch = max(prefillScratch, weights.transient)
            + MemoryPlan.decodeScratchBytes(config: c, sequences: max(1, options.decodeSequences))
        return MemoryPlan(weightBytes: weights.stored, panelBytes: weights.panels, scratchBytes: scratch,
                          kvBytes: options.kvBudgetBytes
                              ?? MemoryPlan.kvBytes(config: c, tokens: c.contextLength, kvDType: options.kvDType),
                          contextTokens: c.contextLength, panelForms: weights.panelForms, kvDType: options.kvDType)
    }

    /// Opens a GGUF file or an HF directory, after checking its memory plan against the memory
    /// available (`EngineError.insufficientMemory` names every size when it does not fit).
    public static func load(path: String, options: Options) throws -> LoadedModel {
        let url = URL(fileURLWithPath: path)
        let checkpoint = try openCheckpoint(at: url)
        if let limit = options.contextLimit, limit < 1 {
            throw EngineError.invalidRequest("context limit \(limit) must be ≥ 1")
        }
        let plan = try memoryPlan(checkpoint: checkpoint, options: options)
        if let available = try options.availableMemory ?? AvailableMemory.current() {
            try plan.check(against: available, path: url.path)
        }
        let model = try LlamaModel(checkpoint: checkpoint, prefill: options.prefillWeights,
                                   contextLimit: options.contextLimit, kvDType: options.kvDType)
        let tokenizer: Tokenizer
        switch checkpoint.tokenizerSource {
        case let .gguf(vocab):
            guard vocab.model == "gpt2" else {
                throw EngineError.modelLoad(path: url.path,
                                            reason: "tokenizer model '\(vocab.model)' is not supported (byte-level BPE 'gpt2' only)")
            }
            let pre = try PreTokenizer(ggufName: vocab.preTokenizer ?? "default")
            tokenizer = try Tokenizer(tokens: vocab.tokens, tokenTypes: vocab.tokenTypes, merges: vocab.merges,
                                      preTokenizer: pre, bosTokenId: vocab.bosTokenId, eosTokenId: vocab.eosTokenId,
                                      eotTokenId: vocab.eotTokenId, addBOS: vocab.addBOS)
        case let .tokenizerJSON(json, config):
            tokenizer = try Tokenizer(tokenizerJSON: json, tokenizerConfig: config)
        }
        guard tokenizer.vocabularySize <= model.config.vocabularySize else {
            throw EngineError.modelLoad(path: url.path, reason:
                "tokenizer has \(tokenizer.vocabularySize) tokens but the model only \(model.config.vocabularySize)")
        }
        let fingerprint = Fingerprint.of(config: model.config, weights: model.weights)
        let c = model.config
        let scores: HeadImportance?
        if let headScoresPath = options.headScoresPath {
            let file = try HeadImportance.load(path: headScoresPath)
            try file.check(fingerprint: fingerprint, layerCount: c.layerCount, headCount: c.headCount,
                           kvHeadCount: c.kvHeadCount, source: headScoresPath)
            scores = file
        } else {
            scores = try ShippedHeadScores.find(fingerprint: fingerprint)
        }
        let loaded = LoadedModel(path: url, model: model, tokenizer: tokenizer,
                                 chatFormat: ChatFormat.detect(fromTemplate: checkpoint.chatTemplate),
                                 defaultSystemPrompt: ChatFormat.defaultSystemPrompt(fromTemplate: checkpoint.chatTemplate),
                                 fingerprint: fingerprint, headImportance: scores)
        loaded.memoryPlan = plan
        return loaded
    }

    init(path: URL, model: LlamaModel, tokenizer: Tokenizer, chatFormat: ChatFormat?, defaultSystemPrompt: String?,
         fingerprint: String, headImportance: HeadImportance? = nil) {
        self.headImportance = headImportance
        self.defaultSystemPrompt = defaultSystemPrompt
        self.path = path
        self.model = model
        self.tokenizer = tokenizer
        self.chatFormat = chatFormat
        self.fingerprint = fingerprint
    }

    /// Token ids of a prompt. With `chat` the text is one user turn of a conversation (see
    /// `encodeChat`). BOS is added when the tokenizer asks for it and the text does not already start
    /// with it.
    public func encodePrompt(_ text: String, chat: Bool) throws -> [Int32] {
        if chat { return try encodeChat([ChatMessage(role: "user", content: text)]) }
        return withBOS(tokenizer.encode(text))
    }

    /// Token ids of a conversation as HF transformers' `apply_chat_template(messages,
    /// add_generation_prompt=True)` makes them for this model: its chat format, its default system
    /// prompt when the conversation does not start with a system message, then the opening of the
    /// assistant turn. Like transformers, special-token text inside a message is read as the special
    /// token (Tests/Fixtures/smollm2/chat_ids.json holds its ids for varied conversations).
    public func encodeChat(_ messages: [ChatMessage]) throws -> [Int32] {
        guard let format = chatFormat else { throw EngineError.noChatTemplate(path: path.path) }
        guard !messages.isEmpty else { throw EngineError.invalidRequest("a chat needs at least one message") }
        let text = format.render(messages, addGenerationPrompt: true, defaultSystemPrompt: defaultSystemPrompt)
        return withBOS(tokenizer.encode(text))
    }

    /// The head scores a prefill under `config` needs: nil for every method but `headkv`, which
    /// requires them (a clear error naming this model when there are none).
    public func headImportance(for config: CompressionConfig) throws(HeadScoresError) -> HeadImportance? {
        guard config.method == .headKV else { return nil }
        guard let headImportance else { throw .missing(fingerprint: fingerprint) }
        return headImportance
    }

    private func withBOS(_ encoded: [Int32]) -> [Int32] {
        var ids = encoded
        if tokenizer.addBOS, let bos = tokenizer.bosTokenId, ids.first != bos { ids.insert(bos, at: 0) }
        return ids
    }
}
