import DollyKit
import Foundation
import Hummingbird

/// Every error the API answers with, in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
/// Mapped to a response once, in `ErrorMiddleware`.
enum APIError: Error, Sendable {
    /// 400: the request is malformed or a value is out of range.
    case invalid(String, param: String? = nil)
    case unauthorized
    case notFound(String)
    /// 404: a request names a model this server does not serve.
    case modelNotFound(String)
    /// DELETE /adapters/{name} of a name no adapter has.
    case adapterNotFound(String)
    case methodNotAllowed
    case bodyTooLarge(limit: Int)
    /// 503 with Retry-After: every slot busy and the queue full, or the model still loading.
    case busy(String, retryAfter: Int)
    case shuttingDown
    /// 503: the work was stopped (the client left, or a shutdown's grace ended).
    case cancelled
    case internalError(String)

    var status: HTTPResponse.Status {
        switch self {
        case .invalid: return .badRequest
        case .unauthorized: return .unauthorized
        case .notFound, .modelNotFound, .adapterNotFound: return .notFound
        case .methodNotAllowed: return .methodNotAllowed
        case .bodyTooLarge: return .contentTooLarge
        case .busy, .shuttingDown, .cancelled: return .serviceUnavailable
        case .internalError: return .internalServerError
        }
    }

    var body: ErrorBody {
        switch self {
        case let .invalid(message, param):
            return ErrorBody(message: message, type: "invalid_request_error", param: param, code: nil)
        case .unauthorized:
            return ErrorBody(message: "missing or wrong API key (Authorization: Bearer KEY)", type: "invalid_request_error",
                             param: nil, code: "invalid_api_key")
        case let .notFound(path):
            return ErrorBody(message: "no such endpoint: \(path)", type: "invalid_request_error", param: nil, code: "not_found")
        case let .modelNotFound(name):
            return ErrorBody(message: "model '\(name)' not found", type: "invalid_request_error", param: "model",
                             code: "model_not_found")
        case let .adapterNotFound(name):
            return ErrorBody(message: "no adapter named '\(name)'", type: "invalid_request_error", param: "name",
                             code: "adapter_not_found")
        case .methodNotAllowed:
            return ErrorBody(message: "method not allowed", type: "invalid_request_error", param: nil, code: nil)
        case let .bodyTooLarge(limit):
            return ErrorBody(message: "the request body exceeds \(limit) bytes", type: "invalid_request_error", param: nil,
                             code: "request_too_large")
        case let .busy(message, _):
            return ErrorBody(message: message, type: "server_error", param: nil, code: "server_busy")
        case .shuttingDown:
            return ErrorBody(message: "the server is shutting down", type: "server_error", param: nil, code: "shutting_down")
        case .cancelled:
            return ErrorBody(message: "the request was cancelled", type: "server_error", param: nil, code: "cancelled")
        case let .internalError(message):
            return ErrorBody(message: message, type: "server_error", param: nil, code: nil)
        }
    }

    /// The API's reading of a library error.
    init(_ error: any Error) {
        switch error {
        case let e as APIError: self = e
        case let e as BatchError:
            switch e {
            case .queueFull: self = .busy(e.localizedDescription, retryAfter: 1)
            case .shuttingDown: self = .shuttingDown
            case .contextExceeded: self = .invalid(e.localizedDescription, param: "max_tokens")
            case .emptyPrompt: self = .invalid(e.localizedDescription, param: "prompt")
            case .badToken: self = .invalid(e.localizedDescription, param: "prompt")
            }
        case let e as ModelError: self = .invalid(e.localizedDescription)
        case let e as LoRAError:
            switch e {
            case let .unknown(name): self = .adapterNotFound(name)
            default: self = .invalid(e.localizedDescription)
            }
        case let e as TokenizerError:
            switch e {
            case .cancelled: self = .cancelled
            case .tooManyTokens: self = .invalid(e.localizedDescription, param: "prompt")
            default: self = .internalError(e.localizedDescription)
            }
        case let e as DecodingError: self = .invalid(Self.describe(e))
        case let e as HTTPError:
            switch e.status {
            case .notFound: self = .notFound("")
            case .contentTooLarge: self = .bodyTooLarge(limit: 0)
            case .methodNotAllowed: self = .methodNotAllowed
            case .badRequest: self = .invalid(e.body ?? "bad request")
            default: self = .internalError(e.body ?? "\(e.status)")
            }
        default: self = .internalError("\(error)")
        }
    }

    private static func describe(_ e: DecodingError) -> String {
        func path(_ c: [CodingKey]) -> String {
            // messages[0].content, as one writes it in JavaScript
            c.isEmpty ? "the body" : c.enumerated().map { i, key in
                key.intValue.map { "[\($0)]" } ?? (i == 0 ? key.stringValue : "." + key.stringValue)
            }.joined()
        }
        switch e {
        case let .typeMismatch(type, ctx): return "\(path(ctx.codingPath)): expected \(type)"
        case let .valueNotFound(_, ctx): return "\(path(ctx.codingPath)) must not be null"
        case let .keyNotFound(key, ctx): return "missing field \(path(ctx.codingPath + [key]))"
        case let .dataCorrupted(ctx):
            if ctx.codingPath.isEmpty { return "the body is not valid JSON (UTF-8)" }
            return "\(path(ctx.codingPath)): \(ctx.debugDescription)"
        @unknown default: return "malformed request"
        }
    }
}

struct ErrorBody: Encodable, Sendable {
    let message: String
    let type: String
    let param: Nullable<String>
    let code: Nullable<String>

    init(message: String, type: String, param: String?, code: String?) {
        self.message = message
        self.type = type
        self.param = Nullable(param)
        self.code = Nullable(code)
    }
}
