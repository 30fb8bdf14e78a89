import Llama
import Wire

/// A prompt's KV, fully received and installed on a decode worker, ready to join the batch.
/// Handed from the I/O thread to the compute thread; the compute thread releases `reservationKey`
/// when the sequence ends, however it ends.
struct InstalledSequence: @unchecked Sendable {
    let begin: KVBegin
    let cache: KVCache
    let firstToken: Int32
    let times: StageTimes
    let wireBytes: Int
    let payloadBytes: Int
    let reservationKey: UInt64
    /// `CancelledRequests.generation` when it was installed.
    let generation: Int
}

/// A KV transfer being received: validated header by header, installed layer by layer.
struct InboundTransfer {
    var receiver: KVTransferReceiver
    let cache: KVCache
    let reservationKey: UInt64
    var wireBytes: Int
    var lastActivity: ContinuousClock.Instant
    var requestID: UInt64 { receiver.begin.requestID }
}
