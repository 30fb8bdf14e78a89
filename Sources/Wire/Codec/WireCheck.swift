/// Checked conversions between Swift's `Int`/`Duration` and the wire's fixed-width fields.
///
/// Encoding a value that does not fit its field is a sender bug but still an error, never a silent
/// truncation; decoding a value that does not fit `Int` (or a bound) is a hostile or broken peer.
enum WireCheck {
    static func range(_ field: String, _ value: Int, _ allowed: ClosedRange<Int>) throws(WireError) {
        guard allowed.contains(value) else {
            throw .valueOutOfRange(field: field, value: Int64(value),
                                   allowed: Int64(allowed.lowerBound)...Int64(allowed.upperBound))
        }
    }

    static func uint32(_ field: String, _ value: Int) throws(WireError) -> UInt32 {
        guard let v = UInt32(exactly: value) else {
            throw .valueOutOfRange(field: field, value: Int64(value), allowed: 0...Int64(UInt32.max))
        }
        return v
    }

    static func uint64(_ field: String, _ value: Int) throws(WireError) -> UInt64 {
        guard let v = UInt64(exactly: value) else {
            throw .valueOutOfRange(field: field, value: Int64(value), allowed: 0...Int64.max)
        }
        return v
    }

    /// A received uint64 as an Int (anything above Int.max is out of range on a 64-bit host).
    static func int(_ field: String, _ value: UInt64) throws(WireError) -> Int {
        guard let v = Int(exactly: value) else {
            throw .valueOutOfRange(field: field, value: Int64(bitPattern: value), allowed: 0...Int64.max)
        }
        return v
    }

    /// A duration as whole milliseconds in a uint32 (rounded toward zero; negative is an error).
    static func millis32(_ field: String, _ d: Duration) throws(WireError) -> UInt32 {
        let (s, atto) = d.components
        guard s >= 0, atto >= 0, s <= Int64(UInt32.max / 1000) else {
            throw .valueOutOfRange(field: field, value: s, allowed: 0...Int64(UInt32.max / 1000))
        }
        return try uint32(field, Int(s * 1000 + atto / 1_000_000_000_000_000))
    }

    /// A duration as whole microseconds in a uint64 (rounded toward zero; negative is an error).
    static func micros64(_ field: String, _ d: Duration) throws(WireError) -> UInt64 {
        let (s, atto) = d.components
        guard s >= 0, atto >= 0, s <= Int64.max / 1_000_000 - 1 else {
            throw .valueOutOfRange(field: field, value: s, allowed: 0...(Int64.max / 1_000_000 - 1))
        }
        return UInt64(s) * 1_000_000 + UInt64(atto / 1_000_000_000_000)
    }

    /// The largest microsecond count `micros64` writes: what decodes must also re-encode (a
    /// coordinator forwards Results and Timings it received), so both directions share this bound.
    static let maxMicros = UInt64(Int64.max / 1_000_000 - 1) * 1_000_000 + 999_999

    /// Received microseconds as a Duration (bounded so `Duration` arithmetic cannot overflow, and so
    /// that it encodes again: see `maxMicros`).
    static func duration(micros: UInt64, field: String) throws(WireError) -> Duration {
        guard micros <= maxMicros else {
            throw .valueOutOfRange(field: field, value: Int64(clamping: micros), allowed: 0...Int64(maxMicros))
        }
        return .microseconds(Int64(micros))
    }

    /// A CURVE public key as text: empty (no CURVE) or 40 Z85 characters. Transport decodes it; this
    /// only keeps anything else off the wire in both directions.
    static func curveKey(_ field: String, _ text: String) throws(WireError) -> String {
        let z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
        guard text.isEmpty || (text.utf8.count == 40 && text.allSatisfy { z85.contains($0) }) else {
            throw .invalidValue(field: field, value: "\(text.utf8.count) bytes, not 40 Z85 characters")
        }
        return text
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
