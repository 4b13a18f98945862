import DollyKit
import Foundation
import Hummingbird

/// Run-time LoRA adapters without a restart: GET /adapters lists them, POST /adapters
/// `{"name": ..., "path": ...}` loads one, DELETE /adapters/{name} removes one (a request running on
/// it keeps it until it ends). With an API key these need it, as every route but /health and the
/// page does (APIKeyMiddleware): the path is a file on the server's machine.
enum AdapterRoutes {
    struct AddRequest: Decodable {
        let name: String
        let path: String
    }

    struct Entry: Encodable {
        let name: String
        /// What requests put in "model".
        let model: String
        let identity: String
        let rank: Int
        let bytes: Int
        let targets: [String]
    }

    static func entry(_ name: String, _ a: LoRAAdapter, state: ServerState) -> Entry {
        Entry(name: name, model: state.configuration.modelName + "+" + name, identity: a.identity, rank: a.maxRank,
              bytes: a.bytes, targets: a.metadata.targets)
    }

    static func register(on router: Router<DollyRequestContext>, state: ServerState) {
        router.get("adapters") { _, _ -> Response in
            JSONBody.response(["data": state.adapters.all.map { entry($0.name, $0.adapter, state: state) }])
        }
        router.post("adapters") { request, _ -> Response in
            var request = request
            let body = try await JSONBody.decode(AddRequest.self, from: &request, limit: state.configuration.bodyLimit)
            let model = try state.ready().model
            // Reading and checking the file (every CRC) is no work for an event loop.
            let adapter = try await Task.detached {
                try state.adapters.add(name: body.name, path: body.path, model: model.network)
            }.value
            return JSONBody.response(entry(body.name, adapter, state: state), status: .created)
        }
        router.delete("adapters/:name") { _, context -> Response in
            let name = context.parameters.get("name") ?? ""
            guard state.adapters.remove(name: name) else { throw APIError.adapterNotFound(name) }
            return JSONBody.response(["deleted": name])
        }
    }
}
