import Checkpoints
import FastKV
import Foundation
import Llama
import RequestVocabulary
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

    /// Opens a GGUF file or an HF directory.
    /// - Parameters:
    ///   - forPrefill: keep the f32 copies of the weights that make prefill fast; a process
    ///     that only tokenizes and routes (the coordinator) passes false and holds ~5× less memory.
    ///   - headScoresPath: a `fastkv headscores` file to use instead of the shipped one; it must have
    ///     been measured on this model (same fingerprint).
    public static func load(path: String, forPrefill: Bool = true, headScoresPath: String? = nil) throws -> LoadedModel {
        let url = URL(fileURLWithPath: path)
        let checkpoint = try openCheckpoint(at: url)
        let model = try LlamaModel(checkpoint: checkpoint, prefillCopies: forPrefill)
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
        if let headScoresPath {
            let file = try HeadImportance.load(path: headScoresPath)
            try file.check(fingerprint: fingerprint, layerCount: c.layerCount, headCount: c.headCount,
                           kvHeadCount: c.kvHeadCount, source: headScoresPath)
            scores = file
        } else {
            scores = try ShippedHeadScores.find(fingerprint: fingerprint)
        }
        return LoadedModel(path: url, model: model, tokenizer: tokenizer,
                           chatFormat: ChatFormat.detect(fromTemplate: checkpoint.chatTemplate),
                           defaultSystemPrompt: ChatFormat.defaultSystemPrompt(fromTemplate: checkpoint.chatTemplate),
                           fingerprint: fingerprint, headImportance: scores)
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
