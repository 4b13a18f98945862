import Foundation
import Hummingbird
import NIOCore

/// How a streamed answer is framed: OpenAI's server-sent events (`data: {json}` and a final
/// `data: [DONE]`) or Ollama's newline-delimited JSON (one object per line, the last with `done`).
enum StreamFraming: Sendable {
    case serverSentEvents
    case ndjson

    var contentType: String { self == .ndjson ? "application/x-ndjson" : "text/event-stream" }
}

extension StreamFraming {
    /// A streamed response whose events `produce` sends. A client that goes away makes a write throw,
    /// which ends `produce` and with it the request's event stream (its slot is freed within one
    /// step). An `APIError` thrown mid-stream (e.g. a shutdown) is sent as the API's error object.
    func response(errorBody: @escaping @Sendable (APIError) -> any Encodable & Sendable,
                  _ produce: @escaping @Sendable (EventSender) async throws -> Void) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.cacheControl] = "no-cache"
        let framing = self
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            let sender = EventSender(writer: writer, framing: framing)
            do {
                do {
                    try await produce(sender)
                } catch let error as APIError where sender.isOpen {
                    try await sender(AnyEncodable(errorBody(error)))
                }
                if framing == .serverSentEvents { try await sender.raw("data: [DONE]\n\n") }
                try await sender.finish()
            } catch where !sender.isOpen {
                // The client went away: nothing to tell it; leaving drops the request's stream.
            }
        })
    }
}

/// An encodable of any type (the error bodies of the two APIs differ).
struct AnyEncodable: Encodable, Sendable {
    let value: any Encodable & Sendable
    init(_ value: any Encodable & Sendable) { self.value = value }
    func encode(to encoder: Encoder) throws { try value.encode(to: encoder) }
}

/// Sends framed events on a response body.
final class EventSender: @unchecked Sendable {
    private var writer: any ResponseBodyWriter
    private let framing: StreamFraming
    private var open = true

    init(writer: any ResponseBodyWriter, framing: StreamFraming) {
        self.writer = writer
        self.framing = framing
    }

    var isOpen: Bool { open }

    func callAsFunction<T: Encodable>(_ value: T) async throws {
        var buffer = ByteBuffer(string: framing == .serverSentEvents ? "data: " : "")
        var json = JSONBody.buffer(value)
        buffer.writeBuffer(&json)
        buffer.writeString(framing == .serverSentEvents ? "\n\n" : "\n")
        try await write(buffer)
    }

    func raw(_ text: String) async throws { try await write(ByteBuffer(string: text)) }

    private func write(_ buffer: ByteBuffer) async throws {
        do {
            try await writer.write(buffer)
        } catch {
            open = false
            throw error
        }
    }

    func finish() async throws { try await writer.finish(nil) }
}
