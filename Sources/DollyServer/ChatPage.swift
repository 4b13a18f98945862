import Hummingbird
import NIOCore

/// The chat page at GET /: three static files (WebUI/) compiled into the binary by SwiftPM's
/// `.embedInCode`, so `dolly serve` needs nothing beside the model. The page calls the server's own
/// /v1/chat/completions; it is exempt from the API key (APIKeyMiddleware), the API is not.
enum ChatPage {
    struct File: Sendable {
        let path: String
        let contentType: String
        let bytes: [UInt8]
    }

    static let files: [File] = [
        File(path: "/", contentType: "text/html; charset=utf-8", bytes: PackageResources.index_html),
        File(path: "/chat.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.chat_js),
        File(path: "/chat.css", contentType: "text/css; charset=utf-8", bytes: PackageResources.chat_css),
    ]

    /// The page's paths, which APIKeyMiddleware lets through without a key (GET and HEAD only).
    static let paths: Set<String> = Set(files.map(\.path))

    /// Nothing inline, nothing from elsewhere: the page's own script and style, and requests to this server.
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        + "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    static func register(on router: Router<some RequestContext>) {
        for file in files {
            let path = RouterPath(file.path)
            router.get(path) { _, _ in response(file, body: true) }
            router.head(path) { _, _ in response(file, body: false) }
        }
    }

    static func response(_ file: File, body: Bool) -> Response {
        let headers: HTTPFields = [
            .contentType: file.contentType,
            .contentLength: String(file.bytes.count),
            .cacheControl: "no-cache",
            .contentSecurityPolicy: contentSecurityPolicy,
            .xContentTypeOptions: "nosniff",
        ]
        return Response(status: .ok, headers: headers,
                        body: body ? .init(byteBuffer: ByteBuffer(bytes: file.bytes)) : .init())
    }
}
