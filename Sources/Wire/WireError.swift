/// Everything that can go wrong turning bytes into messages (or messages into bytes).
///
/// Bytes from the network are hostile: every decoder in this module throws one of these instead of
/// trapping, and each case says what was expected against what was found, so a log line is enough
/// to tell a version skew from a truncated frame from a model mismatch. `field` strings name the
/// proto field (`"KVLayer.positions"`), which is what a peer implementer would grep for.
public enum WireError: Error, Sendable, Equatable {
    /// protobuf-c could not unpack the envelope (truncated, corrupted, or not protobuf at all).
    case malformedEnvelope(byteCount: Int)
    /// The envelope is larger than `WireLimits.maxEnvelopeBytes`.
    case envelopeTooLarge(byteCount: Int, limit: Int)
    /// The peer speaks another protocol version (0 means the field was missing).
    case unsupportedProtocolVersion(found: UInt32, supported: UInt32)
    /// The KV payload layout is another version than ours.
    case unsupportedFormatVersion(found: UInt32, supported: UInt32)
    /// The envelope has no body, or a body this build does not know (a newer peer).
    case missingBody
    /// A required field was absent (a submessage, a oneof, or an enum left at UNSPECIFIED).
    case missingField(String)
    /// An enum field holds a number this build does not define.
    case unknownEnumValue(field: String, value: Int64)
    /// A value lies outside what the field allows (also used when encoding a value that does not
    /// fit the wire type, e.g. 2^40 into a uint32 count).
    case valueOutOfRange(field: String, value: Int64, allowed: ClosedRange<Int64>)
    /// A value the field can hold but the protocol does not allow (e.g. a NaN temperature, request id 0).
    case invalidValue(field: String, value: String)
    /// Two fields that must agree do not (e.g. `entry_count` against the number of positions).
    case countMismatch(field: String, expected: Int, found: Int)
    /// A size computation overflowed Int: the counts cannot describe a real tensor.
    case sizeOverflow(String)
    /// The multipart message has another number of payload frames than its header declares.
    case frameCountMismatch(expected: Int, found: Int)
    /// A payload frame's length differs from the header's `frame_bytes` (or from what K/V need).
    case frameLengthMismatch(frame: Int, expected: Int, found: Int)
    /// A declared frame is larger than the sender is allowed to make it.
    case frameTooLarge(frame: Int, byteCount: Int, limit: Int)
    /// `KVLayer.layer_index` is not below the transfer's layer count.
    case layerIndexOutOfRange(index: Int, layerCount: Int)
    /// A layer arrived twice, before `KVBegin`, after `KVEnd`, or `KVEnd` came with layers missing.
    case transferOutOfOrder(String)
    /// A KV message belongs to another request than the transfer in progress.
    case requestMismatch(expected: UInt64, found: UInt64)
    /// The sender's model or KV geometry differs from the receiver's; nothing was installed.
    case modelMismatch(field: String, expected: String, found: String)
    /// A caller-provided buffer (source tensor or destination) has the wrong size.
    case bufferSizeMismatch(String, expected: Int, found: Int)
}

extension WireError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .malformedEnvelope(let n): "malformed envelope: protobuf-c could not unpack \(n) bytes"
        case .envelopeTooLarge(let n, let limit): "envelope of \(n) bytes exceeds the limit of \(limit)"
        case .unsupportedProtocolVersion(let found, let supported):
            "protocol version \(found) is not supported (this build speaks \(supported))"
        case .unsupportedFormatVersion(let found, let supported):
            "KV format version \(found) is not supported (this build reads \(supported))"
        case .missingBody: "envelope has no body this build knows"
        case .missingField(let field): "required field \(field) is missing"
        case .unknownEnumValue(let field, let value): "\(field) has unknown enum value \(value)"
        case .valueOutOfRange(let field, let value, let allowed):
            "\(field) = \(value) is outside \(allowed.lowerBound)...\(allowed.upperBound)"
        case .invalidValue(let field, let value): "\(field) = \(value) is not allowed"
        case .countMismatch(let field, let expected, let found): "\(field): expected \(expected), found \(found)"
        case .sizeOverflow(let what): "size overflow: \(what)"
        case .frameCountMismatch(let expected, let found): "expected \(expected) payload frames, found \(found)"
        case .frameLengthMismatch(let frame, let expected, let found):
            "payload frame \(frame): expected \(expected) bytes, found \(found)"
        case .frameTooLarge(let frame, let n, let limit): "payload frame \(frame) of \(n) bytes exceeds \(limit)"
        case .layerIndexOutOfRange(let index, let count): "layer index \(index) is not below the layer count \(count)"
        case .transferOutOfOrder(let what): "KV transfer out of order: \(what)"
        case .requestMismatch(let expected, let found): "KV message for request \(found) during request \(expected)"
        case .modelMismatch(let field, let expected, let found):
            "model mismatch on \(field): this worker has \(expected), the sender has \(found)"
        case .bufferSizeMismatch(let what, let expected, let found):
            "\(what): expected \(expected) elements, found \(found)"
        }
    }
}
