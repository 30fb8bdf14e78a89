// Cluster membership and status: the bodies a worker and the coordinator exchange outside any request.
// Plain value types; `Message` wraps them and the codec maps them to protobuf-c (Codec/).

/// worker → coordinator: the first message on a worker's control connection.
public struct Register: Sendable, Hashable {
    /// Chosen by the worker, nonzero, unique per process lifetime.
    public var workerID: UInt64
    public var role: Role
    public var controlEndpoint: String
    /// Decode workers: where prefill workers connect to push KV. Empty for other roles.
    public var kvEndpoint: String
    public var model: ModelShape
    public var kvCapacityBytes: Int
    public var maxSequences: Int
    public var softwareVersion: String
    /// Decode workers: bytes each stored KV element takes in their cache (4 for f32, 2 for f16;
    /// `--kv-dtype`), so the coordinator reserves what the worker will really hold. On the wire 0
    /// (an older worker) reads as 4.
    public var kvBytesPerElement: Int

    /// The KV cache element sizes a worker may register.
    public static let kvBytesPerElementAccepted: Set<Int> = [2, 4]

    /// `value` if it is an accepted element size; the encoder and the decoder both check with it.
    static func checkedKVBytesPerElement(_ value: Int) throws(WireError) -> Int {
        guard kvBytesPerElementAccepted.contains(value) else {
            throw WireError.invalidValue(field: "Register.kv_bytes_per_element", value: "\(value) (2 for f16 or 4 for f32 KV)")
        }
        return value
    }

    public init(workerID: UInt64, role: Role, controlEndpoint: String, kvEndpoint: String = "",
                model: ModelShape, kvCapacityBytes: Int, maxSequences: Int, softwareVersion: String,
                kvBytesPerElement: Int = 4) {
        self.workerID = workerID
        self.role = role
        self.controlEndpoint = controlEndpoint
        self.kvEndpoint = kvEndpoint
        self.model = model
        self.kvCapacityBytes = kvCapacityBytes
        self.maxSequences = maxSequences
        self.softwareVersion = softwareVersion
        self.kvBytesPerElement = kvBytesPerElement
    }
}

/// coordinator → worker: registration accepted, and how often to send heartbeats.
/// (A rejected registration gets an `ErrorReport`, e.g. `.modelMismatch`.)
public struct RegisterAck: Sendable, Hashable {
    public var workerID: UInt64
    /// Whole milliseconds on the wire.
    public var heartbeatInterval: Duration
    /// The coordinator marks the worker lost after this many missed intervals.
    public var heartbeatMissesAllowed: Int

    public init(workerID: UInt64, heartbeatInterval: Duration, heartbeatMissesAllowed: Int) {
        self.workerID = workerID
        self.heartbeatInterval = heartbeatInterval
        self.heartbeatMissesAllowed = heartbeatMissesAllowed
    }
}

/// worker → coordinator, every heartbeat interval: liveness plus the load the router schedules on.
public struct Heartbeat: Sendable, Hashable {
    public var workerID: UInt64
    /// Increases by one per heartbeat; a gap reveals lost heartbeats.
    public var sequence: UInt64
    public var health: Health
    public var queuedPromptTokens: Int
    public var freeKVBytes: Int
    public var activeSequences: Int
    public var sentUnixMicros: UInt64

    public init(workerID: UInt64, sequence: UInt64, health: Health, queuedPromptTokens: Int,
                freeKVBytes: Int, activeSequences: Int, sentUnixMicros: UInt64) {
        self.workerID = workerID
        self.sequence = sequence
        self.health = health
        self.queuedPromptTokens = queuedPromptTokens
        self.freeKVBytes = freeKVBytes
        self.activeSequences = activeSequences
        self.sentUnixMicros = sentUnixMicros
    }
}

/// worker → coordinator: the worker leaves (after draining on SIGTERM). The coordinator forgets it
/// at once instead of after missed heartbeats.
public struct Deregister: Sendable, Hashable {
    public var workerID: UInt64
    public var reason: String
    /// Everything the worker was given is done: a drained prefill worker has sent all its KV, so
    /// its requests are not re-placed. False: work was handed back and is re-placed.
    public var drained: Bool

    public init(workerID: UInt64, reason: String, drained: Bool) {
        self.workerID = workerID
        self.reason = reason
        self.drained = drained
    }
}

/// client → coordinator: "who is in the cluster and how loaded are they?"
/// A client waiting on a request may name it, to learn whether the coordinator still holds it (a
/// restarted coordinator does not: the client reports that at once instead of at its deadline).
public struct StatusQuery: Sendable, Hashable {
    public var requestID: UInt64?
    public init(requestID: UInt64? = nil) { self.requestID = requestID }
}

/// One worker as the coordinator sees it.
public struct WorkerStatus: Sendable, Hashable {
    public var workerID: UInt64
    public var role: Role
    public var controlEndpoint: String
    public var kvEndpoint: String
    public var health: Health
    /// Whole milliseconds on the wire.
    public var lastHeartbeatAge: Duration
    public var queuedPromptTokens: Int
    public var freeKVBytes: Int
    public var activeSequences: Int
    /// Decode workers: the KV bytes `freeKVBytes` returns to when nothing is reserved (0 for prefill).
    public var kvCapacityBytes: Int

    public init(workerID: UInt64, role: Role, controlEndpoint: String, kvEndpoint: String = "",
                health: Health, lastHeartbeatAge: Duration, queuedPromptTokens: Int, freeKVBytes: Int,
                activeSequences: Int, kvCapacityBytes: Int = 0) {
        self.kvCapacityBytes = kvCapacityBytes
        self.workerID = workerID
        self.role = role
        self.controlEndpoint = controlEndpoint
        self.kvEndpoint = kvEndpoint
        self.health = health
        self.lastHeartbeatAge = lastHeartbeatAge
        self.queuedPromptTokens = queuedPromptTokens
        self.freeKVBytes = freeKVBytes
        self.activeSequences = activeSequences
    }
}

/// coordinator → client: the answer to `StatusQuery`.
public struct StatusReply: Sendable, Hashable {
    public var workers: [WorkerStatus]
    public var sentUnixMicros: UInt64
    /// Requests admitted and not yet placed, and requests placed on a worker pair.
    public var waitingRequests: Int
    public var runningRequests: Int
    /// When the coordinator process started: a client that sees it change knows the coordinator
    /// restarted (and forgot every request it held).
    public var coordinatorStartedUnixMicros: UInt64
    /// The StatusQuery named a request and the coordinator holds it.
    public var requestKnown: Bool
    /// The request the StatusQuery named (a client reusing its connection tells replies apart).
    public var queriedRequestID: UInt64?

    public init(workers: [WorkerStatus], sentUnixMicros: UInt64, waitingRequests: Int = 0, runningRequests: Int = 0,
                coordinatorStartedUnixMicros: UInt64 = 0, requestKnown: Bool = false, queriedRequestID: UInt64? = nil) {
        self.requestKnown = requestKnown
        self.queriedRequestID = queriedRequestID
        self.workers = workers
        self.sentUnixMicros = sentUnixMicros
        self.waitingRequests = waitingRequests
        self.runningRequests = runningRequests
        self.coordinatorStartedUnixMicros = coordinatorStartedUnixMicros
    }
}
