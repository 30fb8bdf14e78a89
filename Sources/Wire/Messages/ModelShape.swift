/// The identity and KV geometry of a model, as far as a KV transfer is concerned.
///
/// A decode worker compares the sender's shape with its own before installing anything: a layout
/// mismatch discovered at install time (or never, producing garbage) is the failure mode peers
/// complain about most (vLLM #42895: healthy server, every handshake fails). See `mismatch(with:)`.
public struct ModelShape: Sendable, Hashable {
    /// An opaque identity of the weights (e.g. SHA-256 over architecture and tensor digests). Two
    /// workers with different fingerprints must not exchange KV even if the geometry agrees.
    public var fingerprint: [UInt8]
    public var layerCount: Int
    public var kvHeads: Int
    public var headDim: Int

    public init(fingerprint: [UInt8], layerCount: Int, kvHeads: Int, headDim: Int) {
        self.fingerprint = fingerprint
        self.layerCount = layerCount
        self.kvHeads = kvHeads
        self.headDim = headDim
    }

    /// The first difference between `self` (the local model) and `other` (the sender's), or nil.
    public func mismatch(with other: ModelShape) -> WireError? {
        if fingerprint != other.fingerprint {
            return .modelMismatch(field: "fingerprint", expected: Self.hex(fingerprint), found: Self.hex(other.fingerprint))
        }
        if layerCount != other.layerCount {
            return .modelMismatch(field: "layer_count", expected: "\(layerCount)", found: "\(other.layerCount)")
        }
        if kvHeads != other.kvHeads {
            return .modelMismatch(field: "kv_heads", expected: "\(kvHeads)", found: "\(other.kvHeads)")
        }
        if headDim != other.headDim {
            return .modelMismatch(field: "head_dim", expected: "\(headDim)", found: "\(other.headDim)")
        }
        return nil
    }

    /// Lower-case hex, at most 16 bytes shown (enough to tell fingerprints apart in a log line).
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        var s = ""
        for b in bytes.prefix(16) {
            s.append(digits[Int(b >> 4)])
            s.append(digits[Int(b & 15)])
        }
        return bytes.count > 16 ? s + "…(\(bytes.count) bytes)" : s
    }
}
