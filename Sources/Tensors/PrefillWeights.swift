import CKernels

/// The element form of the prefill GEMM's weight panels (`CKernels/gemm.c`). The compact forms hold
/// the stored format's own values (no rounding) and are converted to f32 inside the micro-kernel:
/// f16 ← F16, bf16 ← BF16, q8_0 ← Q8_0 and Q4_0 (int8 q with a scale per 32 columns), q8_1 ← Q4_1
/// (the same plus a min). f32 takes any stored format.
public enum PanelFormat: Sendable, Equatable, CustomStringConvertible {
    case f32, f16, bf16, q8_0, q8_1

    /// The compact form holding `format`'s values exactly (f32 for f32 weights).
    public static func compact(for format: WeightFormat) -> PanelFormat {
        switch format {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        case .q8_0, .q4_0: return .q8_0
        case .q4_1: return .q8_1
        }
    }

    var kernelPanel: fkv_panel {
        switch self {
        case .f32: return FKV_PANEL_F32
        case .f16: return FKV_PANEL_F16
        case .bf16: return FKV_PANEL_BF16
        case .q8_0: return FKV_PANEL_Q8_0
        case .q8_1: return FKV_PANEL_Q8_1
        }
    }

    /// Whether panels of this form replace the stored rows of `format` weights for every product
    /// (decode included), so a layer matrix is held once: true for the compact forms of f16, bf16
    /// and q8_0 weights, whose panels take about the stored bytes (2, 2 and 1.125 bytes per weight
    /// against 2, 2 and 1.0625), so decode, bound by bytes per token, reads as many from the panels.
    /// False for f32 panels (4 bytes per weight) and for the 4-bit formats, whose int8 panels take
    /// twice the stored bytes: they keep decoding from the stored rows.
    public func replacesStored(_ format: WeightFormat) -> Bool {
        switch (self, format) {
        case (.f16, .f16), (.bf16, .bf16), (.q8_0, .q8_0): return true
        default: return false
        }
    }

    /// Bytes of the panels for a [rows, columns] matrix.
    public func bytes(rows: Int, columns: Int) -> Int { fkv_gemm_panel_bytes(kernelPanel, rows, columns) }

    public var description: String {
        switch self {
        case .f32: return "f32"
        case .f16: return "f16"
        case .bf16: return "bf16"
        case .q8_0: return "q8_0"
        case .q8_1: return "q8_1"
        }
    }
}

/// How prefill holds the weight matrices (the `--prefill-weights` knob): the memory/speed choice of
/// a model load. Where the panels are compact and about the stored size (`PanelFormat.replacesStored`)
/// the layer matrices keep only the panels and decode reads them too; otherwise decode reads the
/// stored format.
public enum PrefillWeights: String, Sendable, CaseIterable {
    /// Compact panels where they cost no accuracy and little conversion work (f16, bf16, q8_0
    /// weights), f32 panels for the 4-bit formats, whose models are the small ones this engine ran
    /// before and whose int8 unpacking adds a multiply (and an add) per weight in the micro-kernel.
    case auto
    /// f32 panels for every format: 4 bytes per weight on top of the stored ones.
    case f32
    /// Compact panels for every format (`PanelFormat.compact(for:)`): at most 1.25 bytes per weight.
    case compact

    /// The panel form used for weights stored as `format`.
    public func panelFormat(for format: WeightFormat) -> PanelFormat {
        switch self {
        case .f32: return .f32
        case .compact: return .compact(for: format)
        case .auto:
            switch format {
            case .q4_0, .q4_1: return .f32
            default: return .compact(for: format)
            }
        }
    }
}
