import Engine
import Foundation
@testable import HTTPFrontEnd
import RequestVocabulary
import Testing
import Tokenization
import TestSupport

/// The real model's tokenizer and template (weights without the prefill copies): chat rendering is
/// part of what is tested, so nothing stands in for it.
let smolLM: LoadedModel? = try? LoadedModel.load(path: TestPaths.smolLMGGUF.path, forPrefill: false)

func translator(defaults: [String: JSONValue] = [:]) throws -> RequestTranslator {
    let model = try #require(smolLM, "the model is missing: run scripts/fetch-model.sh")
    return try RequestTranslator(servedModel: "smol", model: model, defaultCompression: defaults,
                                 defaultMaxTokens: 128, timeout: .seconds(30))
}

func translate(_ json: String, _ endpoint: Endpoint = .completions, defaults: [String: JSONValue] = [:]) throws -> TranslatedRequest {
    try translator(defaults: defaults).translate(try OpenAIRequest.decode(Array(json.utf8)), endpoint: endpoint)
}

/// The error a body is refused with (fails the test when it is accepted).
func refusal(_ json: String, _ endpoint: Endpoint = .completions) throws -> GatewayError {
    do {
        _ = try translate(json, endpoint)
    } catch let e as GatewayError {
        return e
    }
    Issue.record("accepted: \(json)")
    return .internal("accepted")
}

@Suite struct RequestTranslatorTests {
    @Test func completionFieldsBecomeAGenerationRequest() throws {
        let t = try translate(#"{"model":"smol","prompt":"Hi","max_tokens":7,"temperature":0,"top_p":0.5,"seed":42,"stop":["\n","."],"stream":true,"stream_options":{"include_usage":true},"user":"u1"}"#)
        #expect(t.generation.prompt == .text("Hi"))
        let s = try #require(t.generation.sampling)
        #expect(s.maxTokens == 7 && s.temperature == 0 && s.topP == 0.5 && s.seed == 42 && s.stopStrings == ["\n", "."])
        #expect(t.stream && t.includeUsage && t.generation.stream)
        #expect(t.compression == .full && t.wireDType == .f16)
        #expect(t.generation.timeout == .seconds(30))
    }

    @Test func openAIDefaults() throws {
        let t = try translate(#"{"model":"smol","prompt":"Hi"}"#)
        let s = try #require(t.generation.sampling)
        #expect(s.temperature == 1 && s.topP == 1 && s.maxTokens == 128 && s.stopStrings.isEmpty && s.stopAtEOS)
        #expect(!t.stream && !t.includeUsage)
    }

    @Test func maxCompletionTokensWinsOverMaxTokens() throws {
        let t = try translate(#"{"model":"smol","messages":[{"role":"user","content":"Hi"}],"max_tokens":5,"max_completion_tokens":9}"#, .chatCompletions)
        #expect(t.generation.sampling?.maxTokens == 9)
        let e = try refusal(#"{"model":"smol","prompt":"Hi","max_completion_tokens":0}"#)
        #expect(e.status == 400 && e.param == "max_completion_tokens" && "\(e)".contains("max_tokens must be ≥ 1"))
    }

    @Test func chatMessagesAreRenderedWithTheModelsTemplate() throws {
        let model = try #require(smolLM)
        let t = try translate(#"{"model":"smol","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hi "},{"type":"text","text":"there"}]},{"role":"assistant","content":null},{"role":"developer","content":"x"}]}"#, .chatCompletions)
        let expected = try model.encodeChat([ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi there"),
                                             ChatMessage(role: "assistant", content: ""), ChatMessage(role: "system", content: "x")])
        #expect(t.generation.prompt == .tokenIDs(expected))
        #expect(try refusal(#"{"model":"smol","messages":[{"role":"tool","content":"x"}]}"#, .chatCompletions).description.contains("role must be"))
        #expect(try refusal(#"{"model":"smol","messages":[]}"#, .chatCompletions).description.contains("at least one message"))
        #expect(try refusal(#"{"model":"smol","prompt":"x"}"#, .chatCompletions).description.contains("takes messages"))
    }

    @Test func promptsAsTokenIDs() throws {
        #expect(try translate(#"{"model":"smol","prompt":[1,2,3]}"#).generation.prompt == .tokenIDs([1, 2, 3]))
        #expect(try translate(#"{"model":"smol","prompt":[[4,5]]}"#).generation.prompt == .tokenIDs([4, 5]))
        #expect(try translate(#"{"model":"smol","prompt":["one"]}"#).generation.prompt == .text("one"))
        #expect(try refusal(#"{"model":"smol","prompt":["a","b"]}"#).description.contains("batched prompts are not supported"))
        #expect(try refusal(#"{"model":"smol","prompt":[99999999]}"#).description.contains("outside the vocabulary"))
        #expect(try refusal(#"{"model":"smol","prompt":7}"#).description.contains("expected a string or a list of token ids, got a number"))
    }

    @Test func badBodiesAreClear400s() throws {
        let cases: [(String, String)] = [
            ("{\"model\": ", "not valid JSON"),
            ("", "body is empty"),
            (#"{"model":"smol","prompt":"x","temperature":"hot"}"#, "temperature: expected a number"),
            (#"{"model":"gpt-4","prompt":"x"}"#, "'gpt-4' does not exist"),
            (#"{"prompt":"x"}"#, "model is required"),
            (#"{"model":"smol","prompt":"x","n":3}"#, "n must be 1, got 3"),
            (#"{"model":"smol","prompt":"x","temperature":-1}"#, "temperature must be a finite number ≥ 0"),
            (#"{"model":"smol","prompt":"x","stop":[1]}"#, "stop: expected strings"),
            (#"{"model":"smol","prompt":"x","stop":["a","b","c","d","e"]}"#, "at most 4 stop strings"),
            (#"{"model":"smol","prompt":"x","logprobs":3}"#, "logprobs are not supported"),
            (#"{"model":"smol"}"#, "prompt is required"),
        ]
        for (body, message) in cases {
            let e = try refusal(body)
            #expect(e.status == 400, "\(body)")
            #expect(e.description.contains(message), "\(body): \(e)")
        }
        #expect(try refusal(#"{"model":"gpt-4","prompt":"x"}"#).code == "model_not_found")
    }

    @Test func compressionKnobsAreCheckedAndMergedOverTheDefault() throws {
        let defaults: [String: JSONValue] = ["method": .string("fastkv"), "kv_rate": .number(0.1)]
        let t = try translate(#"{"model":"smol","prompt":"x","kv_compression":{"kv_rate":0.3,"tsp_len":64,"kv_budget":128,"window":4,"kernel":5,"pooling":"avg","tsp_layer":10,"wire_dtype":"f32"}}"#, defaults: defaults)
        #expect(t.compression.method == .fastKV && t.compression.retainRate == 0.3 && t.compression.tspLength == 64)
        #expect(t.compression.kvBudget == 128 && t.compression.windowSize == 4 && t.compression.kernelSize == 5)
        #expect(t.compression.pooling == .avg && t.compression.tspLayer == 10 && t.wireDType == .f32)
        #expect(t.generation.compression == t.compression && t.generation.wireDType == .f32)
        #expect(try translate(#"{"model":"smol","prompt":"x"}"#, defaults: defaults).compression.method == .fastKV)
        let head = try translate(#"{"model":"smol","prompt":"x","kv_compression":{"method":"headkv","headkv_beta":2,"headkv_temperature":0.5}}"#, defaults: defaults)
        #expect(head.compression.method == .headKV && head.compression.headKVBeta == 2 && head.compression.headKVTemperature == 0.5)
        let ada = try translate(#"{"model":"smol","prompt":"x","kv_compression":{"method":"adakv","ada_alpha":0}}"#, defaults: defaults)
        #expect(ada.compression.method == .adaKV && ada.compression.adaAlpha == 0)

        let cases: [(String, String)] = [
            (#"{"kv_rate":2}"#, "kv_compression.kv_rate must be in (0, 1], got 2.0"),
            (#"{"kernel":4}"#, "kv_compression.kernel must be a positive odd number"),
            (#"{"method":"magic"}"#, "kv_compression.method"),
            (#"{"kv_rat":0.1}"#, "kv_compression.kv_rat is not a compression knob"),
            (#"{"method":"fastkv","tsp_layer":30}"#, "kv_compression.tsp_layer must be in 0...29"),
            (#"{"method":"fastkv","tsp_layer":29}"#, "must leave at least one layer after it"),
            (#"{"wire_dtype":"f8"}"#, "kv_compression.wire_dtype must be one of f16, f32"),
            (#"{"window":"big"}"#, "kv_compression.window has the wrong type"),
            (#"{"method":"adakv","ada_alpha":1.5}"#, "kv_compression.ada_alpha must be in [0, 1], got 1.5"),
            (#"{"method":"headkv","headkv_beta":0.5}"#, "kv_compression.headkv_beta must be in [1, 1e6]"),
            (#"{"method":"headkv","headkv_temperature":0}"#, "kv_compression.headkv_temperature must be in (0, 100]"),
        ]
        for (knobs, message) in cases {
            let e = try refusal(#"{"model":"smol","prompt":"x","kv_compression":\#(knobs)}"#)
            #expect(e.status == 400 && e.param == "kv_compression", "\(knobs)")
            #expect(e.description.contains(message), "\(knobs): \(e)")
        }
        let model = try #require(smolLM)
        #expect(throws: GatewayError.self) {
            try RequestTranslator(servedModel: "smol", model: model, defaultCompression: ["kv_rate": .number(0)],
                                  defaultMaxTokens: 16, timeout: .seconds(1))
        }
    }
}
