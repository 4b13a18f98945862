import Foundation
import Hummingbird
import NIOCore

/// Turns every error into OpenAI's error object with its status (the one place errors are mapped), and
/// counts responses by status for /metrics.
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
            response = Self.response(api)
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
}

/// With an API key, every endpoint but /health (and CORS preflights) needs `Authorization: Bearer KEY`.
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/health" || request.method == .options { return try await next(request, context) }
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
        return try JSONDecoder().decode(T.self, from: Data(buffer: body))
    }
}
