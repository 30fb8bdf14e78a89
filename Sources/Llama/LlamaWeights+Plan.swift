import Checkpoints
import Tensors

extension LlamaWeights {
    /// Bytes the weights of `checkpoint` will take once loaded with `prefill`, read from the tensor
    /// table only (nothing is loaded or allocated), so a model that cannot fit is refused first.
    public struct PlannedBytes: Sendable, Equatable {
        /// Stored-format weights, mapped from the file or copied (stacked Q|K|V and gate|up); not
        /// the layer matrices whose panels replace them (`PanelFormat.replacesStored`).
        public var stored: Int
        /// Prefill GEMM panels.
        public var panels: Int
        /// The largest single allocation made only while loading (one stacking buffer).
        public var transient: Int
        /// The panel forms used, for messages (e.g. ["q8_0"]).
        public var panelForms: [String]
    }

    /// - Throws: `LlamaError` for a tensor that is missing or has an unsupported column count (the
    ///   same checks loading makes).
    public static func plannedBytes(checkpoint: any Checkpoint, prefill: PrefillWeights?) throws -> PlannedBytes {
        let c = checkpoint.config, file = checkpoint.url.path
        try validate(c, file: file)
        var plan = PlannedBytes(stored: 0, panels: 0, transient: 0, panelForms: [])
        var forms: Set<String> = []
        func tensor(_ name: String) throws -> TensorLayout {
            guard checkpoint.tensorNames.contains(name) else { throw LlamaError.missingTensor(file: file, name: name) }
            return try checkpoint.tensorLayout(named: name)
        }
        func add(_ names: [String], panels: Bool) throws {
            var rows = 0, columns = 0, format = WeightFormat.f32
            for name in names {
                let t = try tensor(name)
                format = weightFormat(t.type)
                rows += t.rowCount
                columns = t.columnCount
                guard columns % format.blockSize == 0 else {
                    throw LlamaError.unsupportedTensorType(file: file, name: name, type: "\(t.type) with \(columns) columns")
                }
            }
            let form = panels ? prefill?.panelFormat(for: format) : nil
            // Panel-only matrices (loading drops their stored rows) count their panels alone.
            let held = WeightMatrix.heldBytes(format: format, rows: rows, columns: columns, prefill: form,
                                              panelsOnly: form?.replacesStored(format) ?? false)
            plan.stored += held.stored
            plan.panels += held.panels
            if names.count > 1 { plan.transient = max(plan.transient, held.stored) }
            if let form { forms.insert(form.description) }
        }
        try add(["model.embed_tokens.weight"], panels: false)
        for i in 0..<c.layerCount {
            let p = "model.layers.\(i)."
            try add(["q_proj", "k_proj", "v_proj"].map { p + "self_attn.\($0).weight" }, panels: true)
            try add([p + "self_attn.o_proj.weight"], panels: true)
            try add([p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"], panels: true)
            try add([p + "mlp.down_proj.weight"], panels: true)
            plan.stored += 2 * c.hiddenSize * 4   // the two norms, as f32
        }
        if !(c.tieWordEmbeddings && !checkpoint.tensorNames.contains("lm_head.weight")) {
            try add(["lm_head.weight"], panels: false)
        }
        plan.stored += c.hiddenSize * 4
        plan.panelForms = forms.sorted()
        return plan
    }
}
