import RequestVocabulary
import FastKVProto

// Swift enums ⇄ protobuf-c enums. `fromProto` returns nil for UNSPECIFIED (the caller decides
// whether the field is optional) and throws for numbers this build does not define: proto3 enums are
// open, so a peer can send any int32.

private func unknown(_ field: String, _ raw: UInt32) -> WireError {
    .unknownEnumValue(field: field, value: Int64(Int32(bitPattern: raw)))
}

/// A required enum: UNSPECIFIED is a missing field.
func requiredEnum<T>(_ value: T?, _ field: String) throws(WireError) -> T {
    guard let value else { throw .missingField(field) }
    return value
}

extension WireDType {
    var proto: Fastkv__WireDType {
        switch self {
        case .f16: FASTKV__WIRE_DTYPE__WIRE_DTYPE_F16
        case .f32: FASTKV__WIRE_DTYPE__WIRE_DTYPE_F32
        }
    }

    static func fromProto(_ v: Fastkv__WireDType, field: String) throws(WireError) -> WireDType? {
        switch v {
        case FASTKV__WIRE_DTYPE__WIRE_DTYPE_UNSPECIFIED: nil
        case FASTKV__WIRE_DTYPE__WIRE_DTYPE_F16: .f16
        case FASTKV__WIRE_DTYPE__WIRE_DTYPE_F32: .f32
        default: throw unknown(field, v.rawValue)
        }
    }
}

extension Role {
    var proto: Fastkv__Role {
        switch self {
        case .coordinator: FASTKV__ROLE__ROLE_COORDINATOR
        case .prefill: FASTKV__ROLE__ROLE_PREFILL
        case .decode: FASTKV__ROLE__ROLE_DECODE
        case .client: FASTKV__ROLE__ROLE_CLIENT
        }
    }

    static func fromProto(_ v: Fastkv__Role, field: String) throws(WireError) -> Role? {
        switch v {
        case FASTKV__ROLE__ROLE_UNSPECIFIED: nil
        case FASTKV__ROLE__ROLE_COORDINATOR: .coordinator
        case FASTKV__ROLE__ROLE_PREFILL: .prefill
        case FASTKV__ROLE__ROLE_DECODE: .decode
        case FASTKV__ROLE__ROLE_CLIENT: .client
        default: throw unknown(field, v.rawValue)
        }
    }
}

extension Health {
    var proto: Fastkv__Health {
        switch self {
        case .ok: FASTKV__HEALTH__HEALTH_OK
        case .degraded: FASTKV__HEALTH__HEALTH_DEGRADED
        case .draining: FASTKV__HEALTH__HEALTH_DRAINING
        case .lost: FASTKV__HEALTH__HEALTH_LOST
        }
    }

    static func fromProto(_ v: Fastkv__Health, field: String) throws(WireError) -> Health? {
        switch v {
        case FASTKV__HEALTH__HEALTH_UNSPECIFIED: nil
        case FASTKV__HEALTH__HEALTH_OK: .ok
        case FASTKV__HEALTH__HEALTH_DEGRADED: .degraded
        case FASTKV__HEALTH__HEALTH_DRAINING: .draining
        case FASTKV__HEALTH__HEALTH_LOST: .lost
        default: throw unknown(field, v.rawValue)
        }
    }
}

extension CompressionMethod {
    var proto: Fastkv__CompressionMethod {
        switch self {
        case .full: FASTKV__COMPRESSION_METHOD__COMPRESSION_METHOD_FULL
        case .fastKV: FASTKV__COMPRESSION_METHOD__COMPRESSION_METHOD_FASTKV
        case .snapKV: FASTKV__COMPRESSION_METHOD__COMPRESSION_METHOD_SNAPKV
        case .streamingLLM: FASTKV__COMPRESSION_METHOD__COMPRESSION_METHOD_STREAMINGLLM
        case .gemFilter: FASTKV__COMPRESSION_METHOD__COMPRESSION_METHOD_GEMFILTER
        case .adaKV: FASTKV__COMPRESSION_METHOD__COMPRESSION_METHOD_ADAKV
        case .headKV: FASTKV__COMPRESSION_METHOD__COMPRESSION_METHOD_HEADKV
        case .h2o: FASTKV__COMPRESSION_METHOD__COMPRESSION_METHOD_H2O
        case .pyramidInfer: FASTKV__COMPRESSION_METHOD__COMPRESSION_METHOD_PYRAMIDINFER
        }
    }

    static func fromProto(_ v: Fastkv__CompressionMethod, field: String) throws(WireError) -> CompressionMethod? {
        switch v {
        case FASTKV__COMPRESSION_METHOD__COMPRESSION_METHOD_UNSPECIFIED: nil
        case FASTKV__COMPRESSION_METHOD__COMPRESSION_METHOD_FULL: .full
        case FASTKV__COMPRESSION_METHOD__COMPRESSION_METHOD_FASTKV: .fastKV
        case FASTKV__COMPRESSION_METHOD__COMPRESSION_METHOD_SNAPKV: .snapKV
        case FASTKV__COMPRESSION_METHOD__COMPRESSION_METHOD_STREAMINGLLM: .streamingLLM
        case FASTKV__COMPRESSION_METHOD__COMPRESSION_METHOD_GEMFILTER: .gemFilter
        case FASTKV__COMPRESSION_METHOD__COMPRESSION_METHOD_ADAKV: .adaKV
        case FASTKV__COMPRESSION_METHOD__COMPRESSION_METHOD_HEADKV: .headKV
        case FASTKV__COMPRESSION_METHOD__COMPRESSION_METHOD_H2O: .h2o
        case FASTKV__COMPRESSION_METHOD__COMPRESSION_METHOD_PYRAMIDINFER: .pyramidInfer
        default: throw unknown(field, v.rawValue)
        }
    }
}

extension Pooling {
    var proto: Fastkv__Pooling {
        switch self {
        case .max: FASTKV__POOLING__POOLING_MAX
        case .avg: FASTKV__POOLING__POOLING_AVG
        }
    }

    static func fromProto(_ v: Fastkv__Pooling, field: String) throws(WireError) -> Pooling? {
        switch v {
        case FASTKV__POOLING__POOLING_UNSPECIFIED: nil
        case FASTKV__POOLING__POOLING_MAX: .max
        case FASTKV__POOLING__POOLING_AVG: .avg
        default: throw unknown(field, v.rawValue)
        }
    }
}

extension ErrorCode {
    var proto: Fastkv__ErrorCode {
        switch self {
        case .badRequest: FASTKV__ERROR_CODE__ERROR_CODE_BAD_REQUEST
        case .busy: FASTKV__ERROR_CODE__ERROR_CODE_BUSY
        case .deadlineExceeded: FASTKV__ERROR_CODE__ERROR_CODE_DEADLINE_EXCEEDED
        case .workerLost: FASTKV__ERROR_CODE__ERROR_CODE_WORKER_LOST
        case .modelMismatch: FASTKV__ERROR_CODE__ERROR_CODE_MODEL_MISMATCH
        case .malformed: FASTKV__ERROR_CODE__ERROR_CODE_MALFORMED
        case .internal: FASTKV__ERROR_CODE__ERROR_CODE_INTERNAL
        case .cancelled: FASTKV__ERROR_CODE__ERROR_CODE_CANCELLED
        case .unavailable: FASTKV__ERROR_CODE__ERROR_CODE_UNAVAILABLE
        }
    }

    static func fromProto(_ v: Fastkv__ErrorCode, field: String) throws(WireError) -> ErrorCode? {
        switch v {
        case FASTKV__ERROR_CODE__ERROR_CODE_UNSPECIFIED: nil
        case FASTKV__ERROR_CODE__ERROR_CODE_BAD_REQUEST: .badRequest
        case FASTKV__ERROR_CODE__ERROR_CODE_BUSY: .busy
        case FASTKV__ERROR_CODE__ERROR_CODE_DEADLINE_EXCEEDED: .deadlineExceeded
        case FASTKV__ERROR_CODE__ERROR_CODE_WORKER_LOST: .workerLost
        case FASTKV__ERROR_CODE__ERROR_CODE_MODEL_MISMATCH: .modelMismatch
        case FASTKV__ERROR_CODE__ERROR_CODE_MALFORMED: .malformed
        case FASTKV__ERROR_CODE__ERROR_CODE_INTERNAL: .internal
        case FASTKV__ERROR_CODE__ERROR_CODE_CANCELLED: .cancelled
        case FASTKV__ERROR_CODE__ERROR_CODE_UNAVAILABLE: .unavailable
        default: throw unknown(field, v.rawValue)
        }
    }
}

extension FinishReason {
    var proto: Fastkv__FinishReason {
        switch self {
        case .endOfSequence: FASTKV__FINISH_REASON__FINISH_REASON_EOS
        case .stopString: FASTKV__FINISH_REASON__FINISH_REASON_STOP_STRING
        case .maxTokens: FASTKV__FINISH_REASON__FINISH_REASON_MAX_TOKENS
        }
    }

    static func fromProto(_ v: Fastkv__FinishReason, field: String) throws(WireError) -> FinishReason? {
        switch v {
        case FASTKV__FINISH_REASON__FINISH_REASON_UNSPECIFIED: nil
        case FASTKV__FINISH_REASON__FINISH_REASON_EOS: .endOfSequence
        case FASTKV__FINISH_REASON__FINISH_REASON_STOP_STRING: .stopString
        case FASTKV__FINISH_REASON__FINISH_REASON_MAX_TOKENS: .maxTokens
        default: throw unknown(field, v.rawValue)
        }
    }
}
