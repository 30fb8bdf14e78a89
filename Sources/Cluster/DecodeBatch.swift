import RequestVocabulary
import Engine
import Foundation
import Llama
import Transport
import Wire

/// The decode worker's compute loop: continuous batching. Every active sequence advances by one
/// token per step through one `LlamaModel.decode(tokens:caches:)` call (one matrix product per
/// projection for the whole batch); installed sequences join between steps, finished, cancelled or
/// expired ones leave between steps and give their KV reservation back.
final class DecodeBatch: @unchecked Sendable {
    let loaded: LoadedModel
    let workerID: UInt64
    let shape: ModelShape
    let inbox: LockedQueue<InstalledSequence>
    let cancelled: CancelledRequests
    let budget: KVMemoryBudget
    let load: WorkerLoad
    let log: Log

    /// One sequence in the batch.
    private struct Active {
        let installed: InstalledSequence
        var decoder: SequenceDecoder
        var lastToken: Int32
        var times: StageTimes
        var requestID: UInt64 { installed.begin.requestID }
    }

    init(loaded: LoadedModel, workerID: UInt64, shape: ModelShape, inbox: LockedQueue<InstalledSequence>,
         cancelled: CancelledRequests, budget: KVMemoryBudget, load: WorkerLoad, log: Log) {
        self.loaded = loaded
        self.workerID = workerID
        self.shape = shape
        self.inbox = inbox
        self.cancelled = cancelled
        self.budget = budget
        self.load = load
        self.log = log
    }

    func run(context: ZMQContext, outEndpoint: String, stop: StopSignal) {
        let out: ZMQSocket
        do {
            out = try context.socket(.pair)
            try out.connect(outEndpoint)
        } catch {
            log("decode loop cannot reach the I/O thread: \(error)")
            return
        }
        func emit(_ m: Message) {
            do { try out.send(header: try m.encoded(), timeout: .seconds(2)) } catch {
                log("could not hand \(m.kind) to the I/O thread: \(error)")
            }
        }
        var active: [Active] = []
        while !stop.isStopped {
            for s in inbox.popAll(waitingUpTo: active.isEmpty ? .milliseconds(100) : .zero) {
                var decoder = SequenceDecoder(tokenizer: loaded.tokenizer,
                                              parameters: s.begin.sampling)
                var times = s.times
                times.firstTokenUnixMicros = UnixTime.nowMicros()
                let text = decoder.accept(s.firstToken)
                var a = Active(installed: s, decoder: decoder, lastToken: s.firstToken, times: times)
                emit(.tokenChunk(TokenChunk(requestID: s.begin.requestID, index: 0, tokenIDs: [s.firstToken], text: text)))
                if a.decoder.isFinished {
                    finish(&a, emit: emit)
                    load.sequenceEnded()
                } else {
                    active.append(a)
                }
            }
            // Leave between steps: cancelled (the coordinator already answered) or past the deadline.
            let nowMillis = UnixTime.nowMillis()
            active.removeAll { a in
                if let reason = cancelled.reason(a.requestID, generation: a.installed.generation) {
                    budget.release(key: a.installed.reservationKey)
                    cancelled.forget(a.requestID)
                    log("request \(a.requestID): left the batch (\(reason))")
                    load.sequenceEnded()
                    return true
                }
                if let d = a.installed.begin.deadlineUnixMillis, nowMillis > d {
                    budget.release(key: a.installed.reservationKey)
                    emit(.error(ErrorReport(requestID: a.requestID, code: .deadlineExceeded,
                                            message: "deadline passed after \(a.decoder.tokens.count) tokens",
                                            workerID: workerID, attempt: a.installed.begin.attempt)))
                    load.sequenceEnded()
                    return true
                }
                return false
            }
            load.setActive(active.count)
            if active.isEmpty { continue }
            var logits: [[Float]]
            do {
                logits = try loaded.model.decode(tokens: active.map(\.lastToken), caches: active.map(\.installed.cache))
            } catch {
                // One bad sequence (a token or position the model refuses) must fail only its own
                // request: run this step one sequence at a time and drop just the ones that fail.
                logits = []
                var kept: [Active] = []
                for a in active {
                    do {
                        logits.append(try loaded.model.decode(tokens: [a.lastToken], caches: [a.installed.cache])[0])
                        kept.append(a)
                    } catch {
                        budget.release(key: a.installed.reservationKey)
                        load.sequenceEnded()
                        log("request \(a.requestID): decode step failed: \(error)")
                        emit(.error(ErrorReport(requestID: a.requestID, code: .internal,
                                                message: "decode step failed: \(error)", workerID: workerID,
                                                attempt: a.installed.begin.attempt)))
                    }
                }
                active = kept
            }
            var still: [Active] = []
            for (i, var a) in active.enumerated() {
                let token = a.decoder.sample(logits[i])
                let text = a.decoder.accept(token)
                a.lastToken = token
                emit(.tokenChunk(TokenChunk(requestID: a.requestID, index: a.decoder.tokens.count - 1, tokenIDs: [token],
                                            text: text)))
                if a.decoder.isFinished {
                    finish(&a, emit: emit)
                    load.sequenceEnded()
                } else {
                    still.append(a)
                }
            }
            active = still
            load.setActive(active.count)
        }
    }

    private func finish(_ a: inout Active, emit: (Message) -> Void) {
        let now = UnixTime.nowMicros()
        a.times.finishedUnixMicros = now
        budget.release(key: a.installed.reservationKey)
        let begin = a.installed.begin
        let t = a.times
        let steps = a.decoder.tokens.count - 1
        // Stage instants come from other hosts' clocks (and from peers): saturating, never trapping.
        let decodeSeconds = UnixTime.elapsed(from: t.firstTokenUnixMicros, to: now).seconds
        let prefill = UnixTime.elapsed(from: t.prefillStartUnixMicros, to: t.prefillEndUnixMicros)
        let transfer = UnixTime.elapsed(from: begin.sentUnixMicros, to: t.kvReceivedUnixMicros)
        let full = (try? KVWireSize.fullPayloadBytes(promptLength: begin.promptLength, model: shape, dtype: begin.wireDType)) ?? 0
        let result = RequestResult(
            requestID: begin.requestID, text: a.decoder.text, tokenIDs: a.decoder.tokens,
            finishReason: a.decoder.finishReason ?? .maxTokens,
            promptTokenCount: begin.promptLength,
            timings: Timings(timeToFirstToken: .zero, prefill: prefill, transfer: transfer,
                             decodeTokensPerSecond: steps > 0 && decodeSeconds > 0 ? Double(steps) / decodeSeconds : 0,
                             stages: t),
            wireBytes: a.installed.wireBytes, fullKVWireBytes: full, prefillWorkerID: begin.prefillWorkerID,
            decodeWorkerID: workerID, payloadBytes: a.installed.payloadBytes)
        emit(.result(result))
    }
}
