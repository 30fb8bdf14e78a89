import Checkpoints
import Foundation
import Testing
import TestSupport

/// config.json variants (transformers v4 and v5 spellings) and config errors.
@Suite struct HFConfigTests {
    /// A TinyLlama HF directory whose config.json is `edit`ed before opening.
    static func open(_ dir: TemporaryDirectory, model: TinyLlama = TinyLlama(),
                     _ edit: (inout [String: Any]) -> Void) throws -> HFCheckpoint {
        try makeDirectory(dir, model: model, edit)
        return try HFCheckpoint(directory: dir.url)
    }

    static func makeDirectory(_ dir: TemporaryDirectory, model: TinyLlama = TinyLlama(),
                              _ edit: (inout [String: Any]) -> Void) throws {
        var object = HFDirectoryWriter.configObject(model.config)
        edit(&object)
        try HFDirectoryWriter.write(directory: dir.url, config: model.config, tensors: model.tensorList,
                                    configObject: object)
    }

    @Test func v4ConfigMatchesModelConfig() throws {
        let dir = try TemporaryDirectory()
        let c = try Self.open(dir) { _ in }
        #expect(c.config == TinyLlama.defaultConfig)
        #expect(c.format == "safetensors")
    }

    @Test func ropeThetaTopLevelOrInRopeParameters() throws {
        let a = try TemporaryDirectory(), b = try TemporaryDirectory(), c = try TemporaryDirectory()
        let top = try Self.open(a) { $0["rope_theta"] = 500000.0 }
        let nested = try Self.open(b) {
            $0["rope_theta"] = nil
            $0["rope_scaling"] = nil
            $0["rope_parameters"] = ["rope_theta": 500000.0, "rope_type": "default"] as [String: Any]
            $0["dtype"] = "float32"
            $0["torch_dtype"] = nil
        }
        let absent = try Self.open(c) { $0["rope_theta"] = nil }
        #expect(top.config.ropeTheta == 500000)
        #expect(nested.config == top.config)
        #expect(nested.config.ropeScaling == nil)
        #expect(absent.config.ropeTheta == 10000)
    }

    @Test func llama3RopeScaling() throws {
        let expected = RopeScaling(factor: 32, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContextLength: 8192)
        let v4 = try TemporaryDirectory(), v5 = try TemporaryDirectory(), legacy = try TemporaryDirectory()
        let a = try Self.open(v4) {
            $0["rope_scaling"] = ["rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                  "original_max_position_embeddings": 8192] as [String: Any]
        }
        let b = try Self.open(v5) {
            $0["rope_theta"] = nil
            $0["rope_scaling"] = nil
            $0["rope_parameters"] = ["rope_type": "llama3", "rope_theta": 500000.0, "factor": 32, "low_freq_factor": 1,
                                     "high_freq_factor": 4, "original_max_position_embeddings": 8192] as [String: Any]
        }
        let c = try Self.open(legacy) {
            $0["rope_scaling"] = ["type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                  "original_max_position_embeddings": 8192] as [String: Any]
        }
        #expect(a.config.ropeScaling == expected)
        #expect(b.config.ropeScaling == expected)
        #expect(b.config.ropeTheta == 500000)
        #expect(c.config.ropeScaling == expected)
    }

    @Test func eosAsIntListOrNullAndOptionalKeys() throws {
        let a = try TemporaryDirectory(), b = try TemporaryDirectory(), c = try TemporaryDirectory()
        #expect(try Self.open(a) { $0["eos_token_id"] = [2, 7, 9] }.config.eosTokenIds == [2, 7, 9])
        #expect(try Self.open(b) { $0["eos_token_id"] = 5 }.config.eosTokenIds == [5])
        // Multi-head (not GQA) model, untied, so the LlamaConfig defaults apply to what is left out.
        var mha = TinyLlama.defaultConfig
        mha.kvHeadCount = mha.headCount
        let minimal = try Self.open(c, model: TinyLlama(config: mha)) {
            $0["eos_token_id"] = NSNull()
            $0["bos_token_id"] = nil
            $0["head_dim"] = nil
            $0["num_key_value_heads"] = nil
            $0["tie_word_embeddings"] = nil
            $0["rms_norm_eps"] = nil
            $0["architectures"] = nil  // model_type "llama" suffices
        }
        #expect(minimal.config.eosTokenIds == [])
        #expect(minimal.config.bosTokenId == nil)
        #expect(minimal.config.headDim == 16)  // 64 / 4
        #expect(minimal.config.kvHeadCount == 4)
        #expect(minimal.config.rmsNormEpsilon == 1e-6)
        #expect(minimal.config.tieWordEmbeddings == false)
    }

    @Test func mistralWithoutSlidingWindowIsLlama() throws {
        let a = try TemporaryDirectory(), b = try TemporaryDirectory(), c = try TemporaryDirectory()
        let null = try Self.open(a) {
            $0["architectures"] = ["MistralForCausalLM"]
            $0["sliding_window"] = NSNull()
        }
        #expect(null.config == TinyLlama.defaultConfig)
        #expect(try Self.open(b) { $0["architectures"] = ["MistralForCausalLM"]; $0["sliding_window"] = 256 }.config.architecture == "llama")
        try Self.makeDirectory(c) { $0["architectures"] = ["MistralForCausalLM"]; $0["sliding_window"] = 128 }
        expectError(file: c.file("config.json"), { try HFCheckpoint(directory: c.url) }) {
            if case let .unsupportedArchitecture(_, found) = $0 { found.contains("sliding_window 128") } else { false }
        }
    }

    @Test func chatTemplateSources() throws {
        let dir = try TemporaryDirectory()
        try TinyLlama().writeHF(to: dir.url)
        #expect(try HFCheckpoint(directory: dir.url).chatTemplate == nil)
        try "{{ jinja }}".write(to: dir.file("chat_template.jinja"), atomically: true, encoding: .utf8)
        #expect(try HFCheckpoint(directory: dir.url).chatTemplate == "{{ jinja }}")
        try HFDirectoryWriter.writeJSON(["chat_template": "{{ config }}"], to: dir.file("tokenizer_config.json"))
        let c = try HFCheckpoint(directory: dir.url)
        #expect(c.chatTemplate == "{{ config }}")
        guard case let .tokenizerJSON(json, config) = c.tokenizerSource else { Issue.record("wrong source"); return }
        #expect(json == dir.file("tokenizer.json"))
        #expect(config == dir.file("tokenizer_config.json"))
        #expect(FileManager.default.fileExists(atPath: json.path))
        try HFDirectoryWriter.writeJSON(["chat_template": [["name": "tool_use", "template": "T"], ["name": "default", "template": "D"]]],
                                        to: dir.file("tokenizer_config.json"))
        #expect(try HFCheckpoint(directory: dir.url).chatTemplate == "D")
    }

    // MARK: errors

    @Test func missingConfigFile() throws {
        let dir = try TemporaryDirectory()
        try TinyLlama().writeHF(to: dir.url)
        try FileManager.default.removeItem(at: dir.file("config.json"))
        expectError(file: dir.file("config.json"), { try HFCheckpoint(directory: dir.url) }) {
            $0 == .fileNotFound(file: dir.file("config.json").path)
        }
    }

    @Test func missingWeights() throws {
        let dir = try TemporaryDirectory()
        try TinyLlama().writeHF(to: dir.url)
        try FileManager.default.removeItem(at: dir.file("model.safetensors"))
        expectError(file: dir.file("model.safetensors"), { try HFCheckpoint(directory: dir.url) }) {
            $0 == .fileNotFound(file: dir.file("model.safetensors").path)
        }
    }

    @Test func unsupportedArchitecture() throws {
        let dir = try TemporaryDirectory()
        let url = dir.file("config.json")
        try Self.makeDirectory(dir) { $0["architectures"] = ["GPT2LMHeadModel"] }
        expectError(file: url, { try HFCheckpoint(directory: dir.url) }) {
            $0 == .unsupportedArchitecture(file: url.path, found: "GPT2LMHeadModel")
        }
        try Self.makeDirectory(dir) { $0["architectures"] = nil; $0["model_type"] = "qwen2" }
        expectError(file: url, { try HFCheckpoint(directory: dir.url) }) { $0 == .unsupportedArchitecture(file: url.path, found: "qwen2") }
    }

    @Test(arguments: ["yarn", "linear", "dynamic", "longrope"])
    func unsupportedRopeType(type: String) throws {
        let dir = try TemporaryDirectory()
        try Self.makeDirectory(dir) { $0["rope_scaling"] = ["rope_type": type, "factor": 2.0] as [String: Any] }
        expectError(file: dir.file("config.json"), { try HFCheckpoint(directory: dir.url) }) {
            $0 == .unsupportedRopeType(file: dir.file("config.json").path, found: type)
        }
    }

    @Test(arguments: ["hidden_size", "num_hidden_layers", "intermediate_size", "num_attention_heads", "vocab_size",
                      "max_position_embeddings"])
    func missingKey(key: String) throws {
        let dir = try TemporaryDirectory()
        try Self.makeDirectory(dir) { $0[key] = nil }
        expectError(file: dir.file("config.json"), { try HFCheckpoint(directory: dir.url) }) {
            $0 == .missingKey(file: dir.file("config.json").path, key: key)
        }
    }

    @Test func missingLlama3Field() throws {
        let dir = try TemporaryDirectory()
        try Self.makeDirectory(dir) {
            $0["rope_scaling"] = ["rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0] as [String: Any]
        }
        expectError(file: dir.file("config.json"), { try HFCheckpoint(directory: dir.url) }) {
            $0 == .missingKey(file: dir.file("config.json").path, key: "rope_scaling.original_max_position_embeddings")
        }
    }

    @Test func wrongTypesAndInvalidJSON() throws {
        let dir = try TemporaryDirectory()
        let url = dir.file("config.json")
        try Self.makeDirectory(dir) { $0["hidden_size"] = "64" }
        expectError(file: url, { try HFCheckpoint(directory: dir.url) }) { if case .invalidKey(_, "hidden_size", _, _) = $0 { true } else { false } }
        try Self.makeDirectory(dir) { $0["num_key_value_heads"] = 3 }
        expectError(file: url, { try HFCheckpoint(directory: dir.url) }) { if case .invalidKey(_, "kvHeadCount", _, _) = $0 { true } else { false } }
        try Self.makeDirectory(dir) { $0["num_hidden_layers"] = 0 }
        expectError(file: url, { try HFCheckpoint(directory: dir.url) }) { if case .invalidKey(_, "num_hidden_layers", _, _) = $0 { true } else { false } }
        try Data("{\"hidden_size\": ".utf8).write(to: url)
        expectError(file: url, { try HFCheckpoint(directory: dir.url) }) { if case .invalidJSON = $0 { true } else { false } }
        try Data("[]".utf8).write(to: url)
        expectError(file: url, { try HFCheckpoint(directory: dir.url) }) { if case .invalidJSON = $0 { true } else { false } }
    }

    @Test func tensorsMustMatchConfig() throws {
        let dir = try TemporaryDirectory()
        try Self.makeDirectory(dir) { $0["tie_word_embeddings"] = false }
        try Self.makeDirectory(dir) { $0["intermediate_size"] = 128 }
        expectError(file: dir.url, { try HFCheckpoint(directory: dir.url) }) {
            if case .invalidTensor(_, "model.layers.0.mlp.down_proj.weight", _, _) = $0 { true } else { false }
        }
        let tied = try TemporaryDirectory()
        let model = TinyLlama(config: TinyLlama.gqa3Config)
        var object = HFDirectoryWriter.configObject(model.config)
        object["tie_word_embeddings"] = false  // but there is no lm_head.weight
        try HFDirectoryWriter.write(directory: tied.url, config: model.config, tensors: model.tensorList, configObject: object)
        expectError(file: tied.url, { try HFCheckpoint(directory: tied.url) }) {
            $0 == .missingTensor(file: tied.url.path, name: "lm_head.weight")
        }
    }
}
