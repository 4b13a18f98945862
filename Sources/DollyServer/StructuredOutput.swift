import DollyKit
import Foundation

/// What a request asks its answer to be, read from `response_format`, `grammar`, `json_schema`,
/// `tools` and `tool_choice`: the grammar that constrains it (nil: free text) and, when tools may be
/// called, the tools to describe in the prompt.
struct OutputPlan: Sendable {
    /// GBNF of the answer's language; nil for free text.
    var gbnf: String?
    /// The request field the grammar came from (named in its errors).
    var param = ""
    /// Tools the model is told about (empty: none); the answer may be a call of one of them.
    var tools: [ToolDefinition] = []
    var toolChoice: ToolChoice = .none

    var callsTools: Bool { !tools.isEmpty && toolChoice != .none }

    /// Reads the output fields of either endpoint (`tools` only on chat).
    static func read(_ output: OutputFields, tools: [ToolField]? = nil, toolChoice: ToolChoice? = nil) throws -> OutputPlan {
        var plan = OutputPlan()
        var askers: [String] = []
        if let format = output.responseFormat {
            switch format.type {
            case .text: break
            case .jsonObject:
                plan.gbnf = JSONSchemaGrammar.anyObjectGBNF
                askers.append("response_format")
            case .jsonSchema:
                // `strict` true or false: the output always matches, since the compiler refuses any
                // keyword it cannot enforce rather than ignore it.
                guard let schema = format.jsonSchema?.schema else {
                    throw APIError.invalid("response_format.json_schema.schema is required", param: "response_format")
                }
                plan.gbnf = try grammar(param: "response_format") { try JSONSchemaGrammar.gbnf(schema: schema.json) }
                askers.append("response_format")
            }
        }
        if let gbnf = output.grammar {
            plan.gbnf = gbnf
            askers.append("grammar")
        }
        if let schema = output.jsonSchema {
            plan.gbnf = try grammar(param: "json_schema") { try JSONSchemaGrammar.gbnf(schema: schema.json) }
            askers.append("json_schema")
        }
        guard askers.count <= 1 else {
            throw APIError.invalid("give one of \(askers.joined(separator: ", ")): each constrains the whole answer", param: askers[1])
        }
        plan.param = askers.first ?? ""
        let choice = toolChoice ?? ((tools?.isEmpty ?? true) ? .none : .auto)
        guard let tools, !tools.isEmpty else {
            if choice != .none { throw APIError.invalid("tool_choice needs tools", param: "tool_choice") }
            return plan
        }
        guard choice != .none else { return plan }  // as OpenAI: tools listed but never called
        guard askers.isEmpty else {
            throw APIError.invalid("tools together with \(askers[0]) are not supported: a call is already JSON", param: "tools")
        }
        var definitions: [ToolDefinition] = []
        for (i, tool) in tools.enumerated() {
            let f = tool.function
            if let p = f.parameters, !p.isObject {
                throw APIError.invalid("tools[\(i)].function.parameters must be a JSON Schema object", param: "tools")
            }
            if definitions.contains(where: { $0.name == f.name }) {
                throw APIError.invalid("tools[\(i)]: the name '\(f.name)' is used twice", param: "tools")
            }
            definitions.append(ToolDefinition(name: f.name, description: f.description, parameters: f.parameters?.json))
        }
        var callable = definitions
        if case let .function(name) = choice {
            guard let tool = definitions.first(where: { $0.name == name }) else {
                throw APIError.invalid("tool_choice names '\(name)', which is not among the tools", param: "tool_choice")
            }
            callable = [tool]
        }
        plan.tools = definitions
        plan.toolChoice = choice
        plan.param = "tools"
        plan.gbnf = try grammar(param: "tools") { try ToolCallGrammar.gbnf(tools: callable, orText: choice == .auto) }
        return plan
    }

    private static func grammar(param: String, _ build: () throws -> String) throws -> String {
        do {
            return try build()
        } catch let e as GrammarError {
            throw Self.invalid(e, param: param)
        }
    }

    /// A grammar or schema error as a 400 naming the field (GBNF errors already start "grammar:").
    static func invalid(_ e: GrammarError, param: String) -> APIError {
        let message = e.localizedDescription
        return .invalid(message.hasPrefix(param + ":") ? message : "\(param): \(message)", param: param)
    }

    /// The bound constraint: from the server's cache, or compiled off the event loop.
    func constraint(state: ServerState, context: DollyRequestContext) async throws -> GrammarConstraint? {
        guard let gbnf else { return nil }
        let cache = try state.grammars()
        if let hit = cache.cached(gbnf: gbnf) { return hit }
        do {
            // Compiling can take tens of milliseconds: on a thread of its own (RequestWork's large path).
            return try await RequestWork.run(bytes: RequestWork.inlineBytes, context: context, state: state) { _ in
                try cache.constraint(gbnf: gbnf)
            }
        } catch let e as GrammarError {
            throw Self.invalid(e, param: param)
        }
    }

    /// The tools paragraph of the prompt's context: each function's signature and description, and how
    /// to call one. Written the same way every turn, so a conversation's prompts share their prefix.
    var toolsContext: String? {
        guard callsTools else { return nil }
        var lines = ["You can call these functions:"]
        for tool in tools {
            var line = "- " + tool.signature
            if let d = tool.description, !d.isEmpty { line += ": \(d)" }
            lines.append(line)
        }
        let call = #"{"name": "<function name>", "arguments": {<arguments>}}"#
        switch toolChoice {
        case .auto: lines.append("To call a function, answer with only the JSON object \(call); otherwise answer in words.")
        case .required: lines.append("Answer with only the JSON object \(call).")
        case let .function(name): lines.append("Call \(name): answer with only the JSON object \(call).")
        case .none: break
        }
        return lines.joined(separator: "\n")
    }
}
