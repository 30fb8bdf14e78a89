import CZMQ
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// libzmq's free callback for zero-copy frames: balances the `passRetained` in `send`. Runs when
/// libzmq is done with the bytes, possibly on one of its I/O threads (Swift refcounting is atomic).
private func releasePayloadOwner(_ data: UnsafeMutableRawPointer?, _ hint: UnsafeMutableRawPointer?) {
    guard let hint else { return }
    Unmanaged<PayloadBuffer>.fromOpaque(hint).release()
}

extension ZMQSocket {
    /// Sends one multipart message: `frames` in order (ROUTER sockets prepend `peer`).
    ///
    /// Waits at most `timeout` for room in the queue (high-water mark reached, or with `immediate`
    /// no connected peer yet), then throws `.timedOut`. ZeroMQ delivers multipart messages
    /// atomically: once the first frame is queued the rest follow, so the wait is only before it.
    ///
    /// Ownership: `.bytes` frames are copied now; `.payload` frames are zero-copy — Transport retains
    /// each frame's `PayloadBuffer` and libzmq releases it when the bytes have left, so the caller can
    /// drop its reference immediately (see `OutgoingFrame`).
    ///
    /// - Throws: `.peerUnreachable` (ROUTER with an unknown or vanished peer), `.timedOut`,
    ///   `.stopped`, `.zmq`.
    public func send(_ frames: [OutgoingFrame], to peer: RoutingID? = nil, timeout: Duration,
                     stop: StopSignal? = nil) throws(TransportError) {
        let h = try openHandle()
        var parts = frames
        switch (type, peer) {
        case (.router, let peer?): parts.insert(.bytes(peer.bytes), at: 0)
        case (.router, nil): throw .invalidArgument("a ROUTER send needs a peer routing id (\(endpointDescription))")
        case (_, .some): throw .invalidArgument("only ROUTER sockets address peers (\(endpointDescription) is \(type))")
        case (_, nil): break
        }
        guard frames.count > 0 else { throw .invalidArgument("send of an empty message on \(endpointDescription)") }

        // Build every zmq_msg_t first, so that a failure before the first frame leaves nothing behind.
        let count = parts.count
        let messages = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: count)
        var initialized = 0
        var sent = 0
        defer {
            // Unsent messages still own their data: closing them frees copies and, for zero-copy
            // frames, runs the free callback that releases the payload owner.
            for i in sent..<initialized { zmq_msg_close(messages + i) }
            messages.deallocate()
        }
        for part in parts {
            let m = messages + initialized
            switch part {
            case .bytes(let bytes):
                guard zmq_msg_init_size(m, bytes.count) == 0 else {
                    throw ZMQContext.lastError("zmq_msg_init_size", endpoint: endpointDescription)
                }
                if !bytes.isEmpty {
                    bytes.withUnsafeBytes { zmq_msg_data(m).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                }
            case .payload(let slice):
                let owner = Unmanaged.passRetained(slice.buffer).toOpaque()
                let data = UnsafeMutableRawPointer(mutating: slice.buffer.unsafeBaseAddress + slice.range.lowerBound)
                guard zmq_msg_init_data(m, data, slice.byteCount, releasePayloadOwner, owner) == 0 else {
                    Unmanaged<PayloadBuffer>.fromOpaque(owner).release()
                    throw ZMQContext.lastError("zmq_msg_init_data", endpoint: endpointDescription)
                }
            }
            initialized += 1
        }

        let deadline = Deadline(after: timeout)
        while sent < count {
            let flags = ZMQ_DONTWAIT | (sent < count - 1 ? ZMQ_SNDMORE : 0)
            if zmq_msg_send(messages + sent, h, flags) >= 0 {
                sent += 1   // libzmq now owns this frame (the zmq_msg_t was reset)
                continue
            }
            switch zmq_errno() {
            case EINTR:
                continue
            case EAGAIN:
                // Room appears when the peer drains or connects; ROUTER POLLOUT can report "some peer
                // writable" while ours is full, so poll in short slices rather than trusting it.
                try waitUntil(ZMQ_POLLOUT, deadline: deadline, stop: stop, operation: "send",
                              slice: .milliseconds(5))
            case EHOSTUNREACH where type == .router:
                throw .peerUnreachable(peer: peer!, endpoint: endpointDescription)
            default:
                // Only the first frame can fail in practice (libzmq accepts the rest of a multipart
                // message once its first frame is queued); ETERM or similar means the socket is done.
                throw ZMQContext.lastError("zmq_msg_send", endpoint: endpointDescription)
            }
        }
    }

    /// Sends `[header] + payload` with the payload zero-copy: the common case of an envelope plus
    /// raw frames (e.g. `EncodedKVLayer`).
    public func send(header: [UInt8], payload: [PayloadSlice] = [], to peer: RoutingID? = nil,
                     timeout: Duration, stop: StopSignal? = nil) throws(TransportError) {
        try send([.bytes(header)] + payload.map { .payload($0) }, to: peer, timeout: timeout, stop: stop)
    }

    /// Polls this socket for `events` until the deadline, in slices so `stop` is honoured.
    /// Returns when the socket is ready (or the slice ended, if `slice` was given and is shorter).
    func waitUntil(_ events: Int32, deadline: Deadline, stop: StopSignal?, operation: String,
                   slice: Duration? = nil) throws(TransportError) {
        let h = try openHandle()
        var item = zmq_pollitem_t(socket: h, fd: 0, events: Int16(events), revents: 0)
        var cap = slice
        if stop != nil { cap = min(cap ?? options.stopCheckInterval, options.stopCheckInterval) }
        while true {
            if stop?.isStopped == true { throw .stopped(operation: operation, endpoint: endpointDescription) }
            // Poll before looking at the clock, so a zero timeout still sees what is already there.
            let rc = zmq_poll(&item, 1, deadline.pollMillis(cap: cap))
            if rc < 0 {
                if zmq_errno() == EINTR { continue }
                throw ZMQContext.lastError("zmq_poll", endpoint: endpointDescription)
            }
            if rc > 0 && item.revents & Int16(events) != 0 { return }
            if deadline.hasPassed {
                throw .timedOut(operation: operation, after: deadline.budget, endpoint: endpointDescription)
            }
            if slice != nil && rc == 0 { return }   // the caller retries its operation
        }
    }
}
