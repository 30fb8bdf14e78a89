/// Block geometry of every ggml tensor type (ggml.c `type_traits`, as listed by python gguf's
/// `GGML_QUANT_SIZES`). The reader needs the sizes of types it cannot decode too: that is how it checks that
/// every tensor's bytes lie inside the file, and how it reports "unsupported Q4_K" instead of "corrupt file".
struct GGMLType: Sendable {
    let id: UInt32
    let name: String
    let blockSize: Int
    let bytesPerBlock: Int

    static let f32: UInt32 = 0, f16: UInt32 = 1, q4_0: UInt32 = 2, q4_1: UInt32 = 3, q8_0: UInt32 = 8, bf16: UInt32 = 30

    private static let table: [UInt32: (String, Int, Int)] = [
        0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
        6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40),
        10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176),
        14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292), 16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74),
        18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
        22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4),
        27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54),
        35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17),
    ]

    /// The geometry of `id`, or nil for an id ggml does not define.
    init?(id: UInt32) {
        guard let (name, block, bytes) = Self.table[id] else { return nil }
        self.id = id
        self.name = name
        self.blockSize = block
        self.bytesPerBlock = bytes
    }

    /// A readable name for any id, known or not ("Q4_K (12)", "type 99").
    static func describe(_ id: UInt32) -> String {
        if let t = GGMLType(id: id) { return "\(t.name) (\(id))" }
        return "type \(id)"
    }

    /// The `ElementType` this module decodes the id as, or nil when unsupported.
    static func elementType(_ id: UInt32) -> ElementType? {
        switch id {
        case f32: return .f32
        case f16: return .f16
        case bf16: return .bf16
        case q8_0: return .q8_0
        case q4_0: return .q4_0
        case q4_1: return .q4_1
        default: return nil
        }
    }
}

extension ElementType {
    /// The ggml type id of this element type.
    public var ggmlType: UInt32 {
        switch self {
        case .f32: return GGMLType.f32
        case .f16: return GGMLType.f16
        case .bf16: return GGMLType.bf16
        case .q8_0: return GGMLType.q8_0
        case .q4_0: return GGMLType.q4_0
        case .q4_1: return GGMLType.q4_1
        }
    }

    /// Bytes needed for `elementCount` weights, or nil when the count is not a whole number of blocks or
    /// the size overflows.
    public func byteCount(elementCount: Int) -> Int? {
        guard elementCount >= 0, elementCount % blockSize == 0 else { return nil }
        let (bytes, overflow) = (elementCount / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        return overflow ? nil : bytes
    }
}
