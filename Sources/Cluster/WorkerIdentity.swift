import Engine
import Wire

/// What a worker says about itself: a fresh id and the model's KV geometry.
enum WorkerIdentity {
    static func newWorkerID() -> UInt64 { UInt64.random(in: 1...UInt64(UInt32.max)) }

    static func shape(of loaded: LoadedModel) -> ModelShape {
        let c = loaded.config
        return ModelShape(fingerprint: Array(loaded.fingerprint.utf8), layerCount: c.layerCount,
                          kvHeads: c.kvHeadCount, headDim: c.headDim)
    }
}
