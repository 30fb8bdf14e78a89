import Foundation

/// Every failure of the `Checkpoints` module. Each case names the file it concerns (its path as given)
/// and carries enough context (offset, expected, found) to diagnose the file without a debugger.
/// `description` is a single line that starts with the file path.
///
/// Bytes from disk are treated as hostile: malformed input always ends up in one of these cases,
/// never in a trap.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    /// Nothing exists at the path.
    case fileNotFound(file: String)
    /// The path exists but is neither a `.gguf` file nor a directory holding `config.json`.
    case unrecognizedFormat(file: String)
    /// The operating system refused to open, stat or map the file.
    case ioError(file: String, operation: String, errno: Int32)
    /// The first four bytes are not `GGUF`; `found` holds them as a little-endian UInt32.
    case badMagic(file: String, found: UInt32)
    /// A GGUF version other than 2 or 3.
    case unsupportedVersion(file: String, found: UInt32)
    /// The file ends inside a structure: `needed` bytes were required at `offset`, only `available` remain.
    case truncated(file: String, offset: Int, needed: Int, available: Int, context: String)
    /// A length or count read from the file cannot fit in what remains of it (or overflows).
    case invalidLength(file: String, offset: Int, length: UInt64, limit: UInt64, context: String)
    /// A structurally malformed value (bad UTF-8, unknown value type, bad alignment, bad JSON type, …).
    case invalidValue(file: String, offset: Int?, context: String, found: String)
    /// A tensor stored in a type this module cannot decode (e.g. GGUF Q4_K or safetensors I8).
    case unsupportedTensorType(file: String, tensor: String, type: String)
    /// The model is not a (plain) Llama-family decoder.
    case unsupportedArchitecture(file: String, found: String)
    /// The RoPE variant is not one we implement (only default and llama3 scaling are).
    case unsupportedRopeType(file: String, found: String)
    /// A required metadata key (GGUF) or config.json key is absent.
    case missingKey(file: String, key: String)
    /// A metadata/config key is present but has the wrong type or an impossible value.
    case invalidKey(file: String, key: String, expected: String, found: String)
    /// A tensor's bytes `[start, end)` do not lie inside the file of `fileSize` bytes.
    case tensorOutOfBounds(file: String, tensor: String, start: UInt64, end: UInt64, fileSize: Int)
    /// A GGUF tensor offset that is not a multiple of the file's alignment.
    case misalignedTensor(file: String, tensor: String, offset: UInt64, alignment: Int)
    /// A tensor whose shape or size is inconsistent (with itself, its byte range or the model config).
    case invalidTensor(file: String, tensor: String, expected: String, found: String)
    /// Two tensors (or two metadata keys) with the same name.
    case duplicateName(file: String, name: String)
    /// `tensor(named:)` for a name the checkpoint does not hold.
    case missingTensor(file: String, name: String)
    /// A file that must be JSON is not (or its top level is not an object).
    case invalidJSON(file: String, reason: String)
    /// `dequantize(into:)` was handed a buffer of the wrong size.
    case destinationSizeMismatch(file: String, tensor: String, expected: Int, found: Int)

    public var description: String {
        switch self {
        case let .fileNotFound(file):
            return "\(file): not found"
        case let .unrecognizedFormat(file):
            return "\(file): neither a GGUF file (*.gguf) nor an HF directory (with config.json)"
        case let .ioError(file, operation, errno):
            return "\(file): \(operation) failed: \(String(cString: strerror(errno))) (errno \(errno))"
        case let .badMagic(file, found):
            return "\(file): not a GGUF file (magic 0x\(String(found, radix: 16)), expected 0x46554747 \"GGUF\")"
        case let .unsupportedVersion(file, found):
            return "\(file): unsupported GGUF version \(found) (expected 2 or 3)"
        case let .truncated(file, offset, needed, available, context):
            return "\(file): truncated while reading \(context) at offset \(offset): needed \(needed) bytes, \(available) left"
        case let .invalidLength(file, offset, length, limit, context):
            return "\(file): invalid \(context) \(length) at offset \(offset) (at most \(limit) possible)"
        case let .invalidValue(file, offset, context, found):
            let at = offset.map { " at offset \($0)" } ?? ""
            return "\(file): invalid \(context)\(at): \(found)"
        case let .unsupportedTensorType(file, tensor, type):
            return "\(file): tensor '\(tensor)' has unsupported type \(type) (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1)"
        case let .unsupportedArchitecture(file, found):
            return "\(file): unsupported architecture \(found) (only Llama-family decoders are supported)"
        case let .unsupportedRopeType(file, found):
            return "\(file): unsupported RoPE type '\(found)' (supported: default, llama3)"
        case let .missingKey(file, key):
            return "\(file): missing required key '\(key)'"
        case let .invalidKey(file, key, expected, found):
            return "\(file): key '\(key)' should be \(expected), found \(found)"
        case let .tensorOutOfBounds(file, tensor, start, end, fileSize):
            return "\(file): data of tensor '\(tensor)' [\(start), \(end)) lies outside the file (\(fileSize) bytes)"
        case let .misalignedTensor(file, tensor, offset, alignment):
            return "\(file): tensor '\(tensor)' offset \(offset) is not a multiple of the alignment \(alignment)"
        case let .invalidTensor(file, tensor, expected, found):
            return "\(file): tensor '\(tensor)': expected \(expected), found \(found)"
        case let .duplicateName(file, name):
            return "\(file): duplicate name '\(name)'"
        case let .missingTensor(file, name):
            return "\(file): no tensor named '\(name)'"
        case let .invalidJSON(file, reason):
            return "\(file): invalid JSON: \(reason)"
        case let .destinationSizeMismatch(file, tensor, expected, found):
            return "\(file): tensor '\(tensor)' has \(expected) elements but the destination holds \(found)"
        }
    }

    /// The file the error concerns.
    public var file: String {
        switch self {
        case let .fileNotFound(f), let .unrecognizedFormat(f), let .ioError(f, _, _), let .badMagic(f, _),
             let .unsupportedVersion(f, _), let .truncated(f, _, _, _, _), let .invalidLength(f, _, _, _, _),
             let .invalidValue(f, _, _, _), let .unsupportedTensorType(f, _, _), let .unsupportedArchitecture(f, _),
             let .unsupportedRopeType(f, _), let .missingKey(f, _), let .invalidKey(f, _, _, _),
             let .tensorOutOfBounds(f, _, _, _, _), let .misalignedTensor(f, _, _, _), let .invalidTensor(f, _, _, _),
             let .duplicateName(f, _), let .missingTensor(f, _), let .invalidJSON(f, _),
             let .destinationSizeMismatch(f, _, _, _):
            return f
        }
    }
}
