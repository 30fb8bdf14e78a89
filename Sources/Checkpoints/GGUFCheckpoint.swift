import Foundation

/// A Llama GGUF file seen as an HF checkpoint: names mapped to HF, shapes reversed to row-major, and the
/// Q/K row permutation that llama.cpp's converter applies undone.
///
/// Opening validates everything up front (header, metadata, every tensor's type, range and shape), so a
/// successfully opened checkpoint only fails later on a name that is not there.
public final class GGUFCheckpoint: Checkpoint {
    private struct Entry: Sendable {
        var info: GGUFTensorInfo
        var type: ElementType
        var shape: [Int]
        /// Head count of a permuted Q/K matrix; nil for tensors stored in HF row order.
        var permutedHeads: Int?
    }

    public let file: GGUFFile
    public let config: ModelConfig
    public let tensorNames: [String]
    public let tokenizerSource: TokenizerSource
    public let chatTemplate: String?
    private let entries: [String: Entry]

    public var url: URL { file.url }
    public var format: String { "gguf" }

    /// The parsed vocabulary (the same value `tokenizerSource` carries).
    public var vocabulary: GGUFVocabulary {
        if case let .gguf(v) = tokenizerSource { return v }
        return GGUFVocabulary(model: "none", tokens: [], tokenTypes: [], merges: [])
    }

    public init(url: URL) throws {
        let file = try GGUFFile(url: url)
        let path = url.path
        let config = try ModelConfig(gguf: file)
        var entries: [String: Entry] = [:]
        for info in file.tensorInfos {
            guard let type = GGMLType.elementType(info.ggmlType) else {
                throw CheckpointError.unsupportedTensorType(file: path, tensor: info.name,
                                                            type: GGMLType.describe(info.ggmlType))
            }
            let name = LlamaLayout.hfName(forGGUF: info.name) ?? info.name
            let entry = Entry(info: info, type: type, shape: info.dimensions.reversed(),
                              permutedHeads: LlamaLayout.permutedHeadCount(forGGUF: info.name, config: config))
            guard entries.updateValue(entry, forKey: name) == nil else {
                throw CheckpointError.duplicateName(file: path, name: name)
            }
        }
        try LlamaLayout.validate(shapes: entries.mapValues(\.shape), config: config, file: path)
        self.file = file
        self.config = config
        self.entries = entries
        tensorNames = entries.keys.sorted()
        tokenizerSource = .gguf(try GGUFVocabulary(gguf: file))
        chatTemplate = try file.string("tokenizer.chat_template")
    }

    /// The tensor in HF naming and row order. Q/K matrices are reordered into a fresh 64-byte-aligned copy
    /// (whole rows, no dequantisation; the mapped pages it was made from are released); every other tensor is a zero-copy view of the mapped file (see
    /// `WeightTensor.view`).
    public func tensor(named name: String) throws -> WeightTensor {
        guard let e = entries[name] else { throw CheckpointError.missingTensor(file: url.path, name: name) }
        let path = url.path
        guard let heads = e.permutedHeads else {
            return try WeightTensor.view(name: name, type: e.type, shape: e.shape, file: path, storage: file.storage,
                                         byteOffset: e.info.offset, byteCount: e.info.byteCount)
        }
        let rows = e.shape.first ?? 1
        guard e.shape.count == 2, rows > 0, rows % (2 * heads) == 0 else {  // only reachable past layerCount
            throw CheckpointError.invalidTensor(file: path, tensor: name,
                                                expected: "a matrix with rows divisible by 2 × \(heads) heads",
                                                found: "shape \(e.shape)")
        }
        guard let copy = ByteStorage(zeroedByteCount: e.info.byteCount) else {
            throw CheckpointError.ioError(file: path, operation: "allocating \(e.info.byteCount) bytes for \(name)",
                                          errno: ENOMEM)
        }
        file.storage.withUnsafeBytes { all in
            copy.withUnsafeMutableBytes { out in
                guard let src = all.baseAddress, let dst = out.baseAddress else { return }
                LlamaLayout.unpermuteRows(from: src + e.info.offset, to: dst, rowCount: rows,
                                          rowBytes: e.info.byteCount / rows, headCount: heads)
            }
        }
        // The copy replaces the mapped bytes: drop their pages, or the file stays resident beside it.
        file.storage.releaseResidentPages(e.info.offset ..< e.info.offset + e.info.byteCount)
        return WeightTensor(name: name, type: e.type, shape: e.shape, file: path, storage: copy,
                            byteOffset: 0, byteCount: e.info.byteCount)
    }

    public func tensorLayout(named name: String) throws -> TensorLayout {
        guard let e = entries[name] else { throw CheckpointError.missingTensor(file: url.path, name: name) }
        return TensorLayout(type: e.type, shape: e.shape)
    }
}
