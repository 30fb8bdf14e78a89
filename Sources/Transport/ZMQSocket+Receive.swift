import CZMQ
#if canImport(Glibc)
import Glibc
#endif

extension ZMQSocket {
    /// Receives one multipart message, waiting at most `timeout`.
    ///
    /// Frames stay in libzmq's buffers (`ReceivedFrame`), so a 16 MiB payload frame is never copied
    /// here. On a ROUTER socket the sender's routing id is peeled off into `peer`.
    /// A message with more than `options.maxFramesPerMessage` frames or `options.maxMessageBytes`
    /// bytes is read to its end, discarded, and reported as `.messageTooLarge`; frames above
    /// `options.maxFrameBytes` never arrive (libzmq drops the connection).
    ///
    /// - Throws: `.timedOut` when nothing arrived in time, `.stopped` when `stop` fired,
    ///   `.messageTooLarge`, `.zmq`.
    public func receive(timeout: Duration, stop: StopSignal? = nil) throws(TransportError) -> ReceivedMessage {
        let deadline = Deadline(after: timeout)
        if discardingRestOfMessage { try discardRestOfMessage(deadline: deadline) }
        while true {
            try waitUntil(ZMQ_POLLIN, deadline: deadline, stop: stop, operation: "receive")
            if let message = try receiveAvailable(deadline: deadline) { return message }
        }
    }

    /// Receives a message that is already queued, without waiting; nil if none is. For loops that
    /// learned from `ZMQPoller` that this socket is readable (and to drain it in a batch).
    public func receiveIfAvailable() throws(TransportError) -> ReceivedMessage? {
        let deadline = Deadline(after: .seconds(1))
        if discardingRestOfMessage { try discardRestOfMessage(deadline: deadline) }
        return try receiveAvailable(deadline: deadline)
    }

    /// `receiveIfAvailable`, but a message refused as too large (already read to its end and freed)
    /// is reported to `onDropped` and the next queued one is returned instead: what every serving
    /// loop wants, so a hostile peer's 1,100-frame message costs a log line, never the process.
    public func receiveIfAvailable(onDropped: (TransportError) -> Void) throws(TransportError) -> ReceivedMessage? {
        while true {
            do {
                return try receiveIfAvailable()
            } catch .messageTooLarge(let frames, let bytes, let maxFrames, let maxBytes, let endpoint) {
                onDropped(.messageTooLarge(frameCount: frames, byteCount: bytes, maxFrames: maxFrames,
                                           maxBytes: maxBytes, endpoint: endpoint))
            }
        }
    }

    /// Reads one whole message if its first frame is queued (libzmq queues multipart messages
    /// atomically, so the rest is there too).
    private func receiveAvailable(deadline: Deadline) throws(TransportError) -> ReceivedMessage? {
        let h = try openHandle()
        var frames: [ReceivedFrame] = []
        var bytes = 0
        while true {
            let frame = ReceivedFrame()
            if zmq_msg_recv(frame.message, h, ZMQ_DONTWAIT) < 0 {
                switch zmq_errno() {
                case EINTR: continue
                case EAGAIN where frames.isEmpty: return nil   // spurious wake-up
                case EAGAIN:
                    // Cannot happen with atomic multipart delivery; wait for the rest, bounded.
                    try waitUntil(ZMQ_POLLIN, deadline: deadline, stop: nil, operation: "receive (rest of message)")
                    continue
                default: throw ZMQContext.lastError("zmq_msg_recv", endpoint: endpointDescription)
                }
            }
            frames.append(frame)
            bytes += frame.byteCount
            let more = zmq_msg_more(frame.message) != 0
            if frames.count > options.maxFramesPerMessage || bytes > options.maxMessageBytes {
                let error = TransportError.messageTooLarge(
                    frameCount: frames.count, byteCount: bytes, maxFrames: options.maxFramesPerMessage,
                    maxBytes: options.maxMessageBytes, endpoint: endpointDescription)
                frames.removeAll()   // free what we hold before reading on
                if more {
                    discardingRestOfMessage = true
                    try discardRestOfMessage(deadline: deadline)
                }
                throw error
            }
            if !more { break }
        }
        var peer: RoutingID? = nil
        if type == .router {
            peer = RoutingID(frames.removeFirst().bytes)
            if frames.isEmpty { return nil }   // a routing id with no body: nothing to deliver
        }
        return ReceivedMessage(peer: peer, peerIdentity: frames[0].userID.map(PeerIdentity.init(publicKey:)),
                               frames: frames)
    }

    /// Reads and frees the remaining frames of a message rejected as too large. Bounded by the
    /// deadline: if a hostile peer keeps a message open forever, the next receive continues here.
    private func discardRestOfMessage(deadline: Deadline) throws(TransportError) {
        let h = try openHandle()
        let frame = ReceivedFrame()
        while discardingRestOfMessage {
            if zmq_msg_recv(frame.message, h, ZMQ_DONTWAIT) < 0 {
                switch zmq_errno() {
                case EINTR: continue
                case EAGAIN:
                    try waitUntil(ZMQ_POLLIN, deadline: deadline, stop: nil, operation: "receive (discarding)")
                    continue
                default: throw ZMQContext.lastError("zmq_msg_recv", endpoint: endpointDescription)
                }
            }
            discardingRestOfMessage = zmq_msg_more(frame.message) != 0
        }
    }
}
