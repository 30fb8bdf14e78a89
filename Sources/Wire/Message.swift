/// Every control message and KV-transfer header: the body of the one top-level `Envelope`
/// (Proto/fastkv.proto). Frame 0 of every ZeroMQ message is `try message.encoded()`; a receiver
/// calls `Message.decode(_:)` on it, whatever the socket, so every header decodes the same way.
public enum Message: Sendable, Hashable {
    case register(Register)
    case registerAck(RegisterAck)
    case heartbeat(Heartbeat)
    case submit(Submit)
    case assignment(Assignment)
    case cancel(Cancel)
    case kvBegin(KVBegin)
    case kvLayer(KVLayerHeader)
    case kvEnd(KVEnd)
    case tokenChunk(TokenChunk)
    case result(RequestResult)
    case error(ErrorReport)
    case statusQuery(StatusQuery)
    case statusReply(StatusReply)
    case deregister(Deregister)
    case kvExpect(KVExpect)

    /// The request this message is about, if any (for routing and logs).
    public var requestID: UInt64? {
        switch self {
        case .submit(let m): m.requestID
        case .assignment(let m): m.requestID
        case .cancel(let m): m.requestID
        case .kvBegin(let m): m.requestID
        case .kvExpect(let m): m.requestID
        case .kvLayer(let m): m.requestID
        case .kvEnd(let m): m.requestID
        case .tokenChunk(let m): m.requestID
        case .result(let m): m.requestID
        case .error(let m): m.requestID
        case .register, .registerAck, .heartbeat, .statusQuery, .statusReply, .deregister: nil
        }
    }

    /// The proto name of the body, for logs and `WireError` context.
    public var kind: String {
        switch self {
        case .register: "Register"
        case .registerAck: "RegisterAck"
        case .heartbeat: "Heartbeat"
        case .submit: "Submit"
        case .assignment: "Assignment"
        case .cancel: "Cancel"
        case .kvBegin: "KVBegin"
        case .kvExpect: "KVExpect"
        case .kvLayer: "KVLayer"
        case .kvEnd: "KVEnd"
        case .tokenChunk: "TokenChunk"
        case .result: "Result"
        case .error: "Error"
        case .statusQuery: "StatusQuery"
        case .statusReply: "StatusReply"
        case .deregister: "Deregister"
        }
    }
}
