// TEMPORARY: the API contract of the Checkpoints target, so dependants compile while the readers
// are written on the `ckpt` branch. Deleted when that branch is merged.
import Foundation

public final class ByteStorage: @unchecked Sendable {}

public struct WeightTensor: @unchecked Sendable {
    public let name: String
    public let type: ElementType
    public let shape: [Int]
    public var elementCount: Int { shape.reduce(1, *) }
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { fatalError() }
    public func dequantize(into destination: UnsafeMutableBufferPointer<Float>) throws { fatalError() }
}

public struct GGUFVocabulary: Sendable {
    public var model: String
    public var preTokenizer: String?
    public var tokens: [String]
    public var tokenTypes: [Int32]
    public var merges: [String]
    public var bosTokenId: Int32?
    public var eosTokenId: Int32?
    public var eotTokenId: Int32?
    public var addBOS: Bool
}

public enum TokenizerSource: Sendable { case gguf(GGUFVocabulary); case tokenizerJSON(URL, config: URL?) }

public protocol Checkpoint: AnyObject, Sendable {
    var url: URL { get }
    var format: String { get }
    var config: ModelConfig { get }
    var tensorNames: [String] { get }
    func tensor(named name: String) throws -> WeightTensor
    var tokenizerSource: TokenizerSource { get }
    var chatTemplate: String? { get }
}

public func openCheckpoint(at url: URL) throws -> any Checkpoint { fatalError() }
