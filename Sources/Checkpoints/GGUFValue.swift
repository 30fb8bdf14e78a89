/// One GGUF metadata value, with the type tag it was stored under (GGUF spec, "gguf_metadata_value_type").
/// Arrays hold values of a single type on disk; the enum does not enforce that, the writer does.
public indirect enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
    case array([GGUFValue])

    /// The on-disk type tag (`GGUF_TYPE_*`): 0 uint8 … 12 float64.
    public var typeTag: UInt32 {
        switch self {
        case .uint8: return 0
        case .int8: return 1
        case .uint16: return 2
        case .int16: return 3
        case .uint32: return 4
        case .int32: return 5
        case .float32: return 6
        case .bool: return 7
        case .string: return 8
        case .array: return 9
        case .uint64: return 10
        case .int64: return 11
        case .float64: return 12
        }
    }

    /// Any integer case that fits in `Int` (bools are not integers here).
    public var intValue: Int? {
        switch self {
        case let .uint8(v): return Int(v)
        case let .int8(v): return Int(v)
        case let .uint16(v): return Int(v)
        case let .int16(v): return Int(v)
        case let .uint32(v): return Int(v)
        case let .int32(v): return Int(v)
        case let .uint64(v): return Int(exactly: v)
        case let .int64(v): return Int(v)
        default: return nil
        }
    }

    /// Floats as stored (f32 widened exactly) and integers converted.
    public var doubleValue: Double? {
        switch self {
        case let .float32(v): return Double(v)
        case let .float64(v): return v
        default: return intValue.map(Double.init)
        }
    }

    public var boolValue: Bool? {
        if case let .bool(v) = self { return v }
        return nil
    }

    public var stringValue: String? {
        if case let .string(v) = self { return v }
        return nil
    }

    /// An array whose elements are all strings.
    public var stringArray: [String]? {
        guard case let .array(items) = self else { return nil }
        var out: [String] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard case let .string(s) = item else { return nil }
            out.append(s)
        }
        return out
    }

    /// An array whose elements are all integers that fit in `Int`.
    public var intArray: [Int]? {
        guard case let .array(items) = self else { return nil }
        var out: [Int] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let v = item.intValue else { return nil }
            out.append(v)
        }
        return out
    }

    /// A short rendering for error messages (arrays are summarised, long strings cut).
    var summary: String {
        switch self {
        case let .string(s): return s.count > 40 ? "string \"\(s.prefix(40))…\"" : "string \"\(s)\""
        case let .array(items): return "array of \(items.count)"
        case let .bool(b): return "bool \(b)"
        case let .float32(v): return "float32 \(v)"
        case let .float64(v): return "float64 \(v)"
        case let .uint64(v): return "integer \(v)"
        default: return "integer \(intValue ?? 0)"
        }
    }
}
