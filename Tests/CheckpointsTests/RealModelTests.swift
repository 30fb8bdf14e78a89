import Checkpoints
import Foundation
import Testing
import TestSupport

/// The real SmolLM2-135M checkpoint in both formats. The HF directory was produced from the GGUF by python
/// gguf's dequantiser plus the Q/K unpermutation, so equal bits here prove our dequantisation and unpermutation.
/// Missing model files are a failure, not a skip: CI always fetches them.
@Suite struct RealModelTests {
    static func modelFilesPresent() -> Bool {
        let fm = FileManager.default
        let present = fm.fileExists(atPath: TestPaths.smolLMGGUF.path)
            && fm.fileExists(atPath: TestPaths.smolLMHF.appendingPathComponent("config.json").path)
            && fm.fileExists(atPath: TestPaths.smolLMHF.appendingPathComponent("model.safetensors").path)
        if !present {
            Issue.record("""
                SmolLM2 model files not found under \(TestPaths.models.path): run `scripts/fetch-model.sh --hf` \
                (or set FASTKV_MODELS_DIR)
                """)
        }
        return present
    }

    @Test func configsMatchAndAreSmolLM2() throws {
        guard Self.modelFilesPresent() else { return }
        let gguf = try GGUFCheckpoint(url: TestPaths.smolLMGGUF)
        let hf = try HFCheckpoint(directory: TestPaths.smolLMHF)
        #expect(gguf.config == hf.config)
        let c = gguf.config
        #expect(c.architecture == "llama")
        #expect(c.layerCount == 30)
        #expect(c.hiddenSize == 576)
        #expect(c.intermediateSize == 1536)
        #expect(c.headCount == 9)
        #expect(c.kvHeadCount == 3)
        #expect(c.headDim == 64)
        #expect(c.vocabularySize == 49152)
        #expect(c.contextLength == 8192)
        #expect(c.ropeTheta == 1e5)
        #expect(c.ropeScaling == nil)
        #expect(c.rmsNormEpsilon == Float(9.999999747378752e-06))
        #expect(c.tieWordEmbeddings)
        #expect(c.bosTokenId == 1)
        #expect(c.eosTokenIds == [2])
        #expect(gguf.format == "gguf")
        #expect(hf.format == "safetensors")
        #expect(gguf.file.version == 3)
        #expect(gguf.file.tensorInfos.count == 272)
    }

    @Test func tokenizerAndChatTemplate() throws {
        guard Self.modelFilesPresent() else { return }
        let gguf = try GGUFCheckpoint(url: TestPaths.smolLMGGUF)
        let hf = try HFCheckpoint(directory: TestPaths.smolLMHF)
        let vocab = gguf.vocabulary
        #expect(vocab.model == "gpt2")
        #expect(vocab.preTokenizer == "smollm")
        #expect(vocab.tokens.count == 49152)
        #expect(vocab.tokenTypes.count == 49152)
        #expect(vocab.merges.count == 48900)
        #expect(vocab.tokens[1] == "<|im_start|>")
        #expect(vocab.tokens[2] == "<|im_end|>")
        #expect(vocab.tokenTypes[2] == 3)
        #expect(vocab.bosTokenId == 1)
        #expect(vocab.eosTokenId == 2)
        #expect(vocab.addBOS == false)
        let template = try #require(gguf.chatTemplate)
        #expect(template.hasPrefix("{% for message in messages %}"))
        #expect(hf.chatTemplate == template)
        guard case let .tokenizerJSON(json, config) = hf.tokenizerSource else {
            Issue.record("HF tokenizer source is \(hf.tokenizerSource)")
            return
        }
        #expect(json.lastPathComponent == "tokenizer.json")
        #expect(config?.lastPathComponent == "tokenizer_config.json")
    }

    /// Every tensor, dequantised, bit for bit.
    @Test func everyTensorBitIdenticalAcrossFormats() throws {
        guard Self.modelFilesPresent() else { return }
        let gguf = try GGUFCheckpoint(url: TestPaths.smolLMGGUF)
        let hf = try HFCheckpoint(directory: TestPaths.smolLMHF)
        #expect(gguf.tensorNames == hf.tensorNames)
        #expect(gguf.tensorNames.count == 272)
        #expect(!gguf.tensorNames.contains("lm_head.weight"))
        #expect(throws: CheckpointError.missingTensor(file: TestPaths.smolLMGGUF.path, name: "lm_head.weight")) {
            try gguf.tensor(named: "lm_head.weight")
        }

        let capacity = 49152 * 576
        let a = UnsafeMutableBufferPointer<Float>.allocate(capacity: capacity)
        let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: capacity)
        defer { a.deallocate(); b.deallocate() }
        var checked = 0
        for name in gguf.tensorNames {
            let x = try gguf.tensor(named: name), y = try hf.tensor(named: name)
            guard x.shape == y.shape else {
                Issue.record("\(name): GGUF shape \(x.shape) vs HF shape \(y.shape)")
                return
            }
            #expect(y.type == .f32)
            let n = x.elementCount
            let da = UnsafeMutableBufferPointer(rebasing: a[0 ..< n]), db = UnsafeMutableBufferPointer(rebasing: b[0 ..< n])
            try x.dequantize(into: da)
            try y.dequantize(into: db)
            if memcmp(da.baseAddress!, db.baseAddress!, n * 4) != 0 {
                let i = (0 ..< n).first { da[$0].bitPattern != db[$0].bitPattern }!
                Issue.record("""
                    \(name) (\(x.type), shape \(x.shape)): first mismatch at flat index \(i) (row \(i / x.columnCount), \
                    col \(i % x.columnCount)): GGUF \(da[i]) vs safetensors \(db[i])
                    """)
                return
            }
            checked += n
        }
        #expect(checked == 134_515_008)
    }
}
