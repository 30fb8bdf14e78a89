import Transport
import Wire

/// A transfer whose KVBegin arrived before the coordinator's KVExpect for it: its messages wait here
/// (still in libzmq's buffers), bounded in count and time, until the KVExpect admits or refuses it.
struct ParkedTransfer {
    var messages: [ReceivedMessage]
    let since: ContinuousClock.Instant
    let requestID: UInt64
    let attempt: Int
}

/// The KV sender check (`KVSenderGate`): a transfer is installed only from the prefill worker the
/// coordinator assigned. Refusals go to the sender only — never to the coordinator, so a refused
/// peer cannot fail the live attempt it names — and its later layers are dropped quietly.
extension DecodeWorker {
    static let maxParkedMessages = 64
    static let maxParkedSenders = 16

    /// Takes a message from a sender whose transfer is waiting for its KVExpect; true when taken.
    func holdIfParked(_ message: Message, _ received: ReceivedMessage, from peer: RoutingID, socket: ZMQSocket) -> Bool {
        guard var p = parked[peer] else { return false }
        if case .kvBegin = message {
            parked.removeValue(forKey: peer)   // a new transfer from this sender replaces the waiting one
            return false
        }
        guard p.messages.count < Self.maxParkedMessages else {
            parked.removeValue(forKey: peer)
            refuseSender(peer, requestID: p.requestID, attempt: p.attempt,
                         "\(Self.maxParkedMessages) KV messages arrived before the coordinator assigned this transfer", socket: socket)
            return true
        }
        p.messages.append(received)
        parked[peer] = p
        return true
    }

    /// Whether a KVBegin may start its transfer now; otherwise it is parked or refused here.
    func admits(_ begin: KVBegin, _ received: ReceivedMessage, from peer: RoutingID, socket: ZMQSocket) -> Bool {
        switch gate.verdict(for: begin, sender: received.peerIdentity) {
        case .accept:
            return true
        case .wait:
            guard parked.count < Self.maxParkedSenders else {
                refuseSender(peer, requestID: begin.requestID, attempt: begin.attempt,
                             "\(Self.maxParkedSenders) transfers already wait for their assignment", socket: socket)
                return false
            }
            parked[peer] = ParkedTransfer(messages: [received], since: ContinuousClock.now, requestID: begin.requestID,
                                          attempt: begin.attempt)
            return false
        case .refuse(let why):
            refuseSender(peer, requestID: begin.requestID, attempt: begin.attempt, why, socket: socket)
            return false
        }
    }

    /// The coordinator's KVExpect: record it, then replay the transfers that were waiting for it.
    func admitExpected(_ e: KVExpect, socket: ZMQSocket, link: ControlLink) {
        gate.expect(e)
        for (peer, p) in parked where p.requestID == e.requestID {
            parked.removeValue(forKey: peer)
            for m in p.messages { handleKV(m, socket: socket, link: link) }
        }
    }

    /// Forgets what is known and waiting for a cancelled request.
    func forgetExpected(_ requestID: UInt64) {
        gate.forget(requestID)
        for (peer, p) in parked where p.requestID == requestID { parked.removeValue(forKey: peer) }
    }

    /// Refuses transfers whose KVExpect did not come within `expectationWait`.
    func expireParked(socket: ZMQSocket) {
        let now = ContinuousClock.now
        for (peer, p) in parked where now - p.since > expectationWait {
            parked.removeValue(forKey: peer)
            refuseSender(peer, requestID: p.requestID, attempt: p.attempt,
                         "no assignment of request \(p.requestID) attempt \(p.attempt) to this sender arrived within \(expectationWait)",
                         socket: socket)
        }
    }

    func refuseSender(_ peer: RoutingID, requestID: UInt64, attempt: Int, _ why: String, socket: ZMQSocket) {
        log("request \(requestID): refused KV from \(peer): \(why)")
        refused[peer] = ContinuousClock.now
        reply(socket, to: peer, ErrorReport(requestID: requestID, code: .badRequest, message: "refused: \(why)",
                                            workerID: workerID, attempt: attempt))
    }
}
