import Foundation
import Hummingbird
import NIOCore

/// Turns every error into the API's error object with its status (the one place errors are mapped:
/// OpenAI's shape, or Ollama's under /api/), and counts responses by status for /metrics.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let state: ServerState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            var api = APIError(error)
            if case .notFound = api { api = .notFound(request.uri.path) }
            if case .bodyTooLarge = api { api = .bodyTooLarge(limit: state.configuration.bodyLimit) }
            response = request.uri.path.hasPrefix("/api/") ? Self.ollamaResponse(api) : Self.response(api)
        }
        state.count(status: response.status.code)
        return response
    }

    static func response(_ error: APIError) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if case let .busy(_, seconds) = error { headers[.retryAfter] = String(seconds) }
        return Response(status: error.status, headers: headers, body: .init(byteBuffer: JSONBody.buffer(["error": error.body])))
    }

    /// Ollama's shape: `{"error": "message"}`, the same status.
    static func ollamaResponse(_ error: APIError) -> Response {
        var response = Self.response(error)
        response.body = .init(byteBuffer: JSONBody.buffer(["error": error.body.message]))
        return response
    }
}

/// With an API key, every endpoint but /health, the chat page's files (GET and HEAD) and CORS preflights
/// needs `Authorization: Bearer KEY`.
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/health" || request.method == .options { return try await next(request, context) }
        if request.method == .get || request.method == .head, ChatPage.paths.contains(request.uri.path) {
            return try await next(request, context)
        }
        guard let value = request.headers[.authorization], value == "Bearer \(key)" else { throw APIError.unauthorized }
        return try await next(request, context)
    }
}

enum JSONBody {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return e
    }()

    static func buffer<T: Encodable>(_ value: T) -> ByteBuffer {
        // Our response types always encode; a failure here is a bug, answered as an empty object.
        ByteBuffer(bytes: (try? encoder.encode(value)) ?? Data("{}".utf8))
    }

    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: buffer(value)))
    }

    /// Decodes a request body of at most `limit` bytes.
    static func decode<T: Decodable>(_ type: T.Type, from request: inout Request, limit: Int) async throws -> T {
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: limit)
        } catch let e as HTTPError where e.status == .contentTooLarge {
            throw APIError.bodyTooLarge(limit: limit)
        } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge(limit: limit)
        }
        guard body.readableBytes > 0 else { throw APIError.invalid("the request has no JSON body") }
        let data = Data(buffer: body)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            // Foundation says only "not valid JSON", wherever the fault; name the one clients hit.
            if let escape = loneSurrogateEscape(in: data) {
                throw APIError.invalid("a string in the body is not valid Unicode: \(escape) is a lone surrogate escape")
            }
            throw DecodingError.dataCorrupted(context)
        }
    }

    static let notUnicode = "the string is not valid Unicode (it holds a lone surrogate escape such as \\ud800)"

    /// The first `\u` escape (four hex digits) of a UTF-16 surrogate without its other half, as written.
    static func loneSurrogateEscape(in data: Data) -> String? {
        let bytes = [UInt8](data)
        func escape(at i: Int) -> UInt32? {  // the value of the `\u` escape at i
            guard i + 6 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u"),
                  let v = UInt32(String(decoding: bytes[(i + 2)..<(i + 6)], as: UTF8.self), radix: 16) else { return nil }
            return v
        }
        var i = 0
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "\\") else { i += 1; continue }
            guard let v = escape(at: i) else { i += 2; continue }  // another escape, e.g. \\ or \"
            if (0xD800...0xDBFF).contains(v), let low = escape(at: i + 6), (0xDC00...0xDFFF).contains(low) {
                i += 12
            } else if (0xD800...0xDFFF).contains(v) {
                return String(decoding: bytes[i..<(i + 6)], as: UTF8.self)
            } else {
                i += 6
            }
        }
        return nil
    }
}
