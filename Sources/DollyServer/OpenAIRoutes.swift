import DollyKit
import Foundation
import Hummingbird

/// OpenAI's API (and llama-server's tokenize / detokenize): /v1/models, /v1/chat/completions,
/// /v1/completions, /tokenize, /detokenize. Thin: the work is in `Completions` and the library.
enum OpenAIRoutes {
    static func register(on router: Router<DollyRequestContext>, state: ServerState) {
        let completions = Completions(state: state)

        router.get("v1/models") { _, _ -> Response in
            JSONBody.response(ModelList(data: state.modelNames.map { .init(id: $0, created: state.started) }))
        }
        router.post("v1/chat/completions") { request, context -> Response in
            var request = request
            return try await completions.chat(&request, context: context)
        }
        router.post("v1/completions") { request, context -> Response in
            var request = request
            return try await completions.complete(&request, context: context)
        }
        router.post("tokenize") { request, context -> Response in
            var request = request
            let body = try await JSONBody.decode(TokenizeRequest.self, from: &request, limit: state.configuration.bodyLimit)
            let tokenizer = try state.ready().model.tokenizer, text = body.content
            let ids = try await RequestWork.run(bytes: text.utf8.count, context: context, state: state) { cancelled in
                try tokenizer.encode(text, atMost: .max, isCancelled: cancelled)
            }
            return JSONBody.response(TokenizeResponse(tokens: ids))
        }
        router.post("detokenize") { request, context -> Response in
            var request = request
            let body = try await JSONBody.decode(DetokenizeRequest.self, from: &request, limit: state.configuration.bodyLimit)
            let model = try state.ready().model
            let vocab = model.config.vocabSize
            if let bad = body.tokens.first(where: { $0 < 0 || Int($0) >= vocab }) {
                throw APIError.invalid("token id \(bad) is outside the vocabulary (\(vocab))", param: "tokens")
            }
            let tokenizer = model.tokenizer, ids = body.tokens
            // Decoding is linear and never long, but a megabyte of ids is still no work for an event loop.
            let text = try await RequestWork.run(bytes: ids.count * 4, context: context, state: state) { _ in tokenizer.decode(ids) }
            return JSONBody.response(DetokenizeResponse(content: text))
        }
    }
}
