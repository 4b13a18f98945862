import DollyKit
import Foundation

/// Refusing what we do not implement: a field the server would otherwise ignore changes what the
/// client expects (JSON, a tool call, a bias) without telling it, so every unknown field is a 400 that
/// names it.
enum RequestFields {
    struct AnyKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    static func refuseUnknown(in decoder: Decoder, known: [String], param: String? = nil) throws {
        guard let c = try? decoder.container(keyedBy: AnyKey.self) else { return }  // not an object: the typed decode says so
        let known = Set(known)
        if let unknown = c.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            let inside = param.map { " in \($0)" } ?? ""
            throw APIError.invalid("unsupported field '\(unknown)'\(inside): dolly serve does not implement it", param: param ?? unknown)
        }
    }
}

extension JSONNode {
    /// Compact JSON text, keys sorted and slashes unescaped (as `JSONBody.encoder` writes): the
    /// same schema always gives the same text (the grammar cache's key, the tools paragraph of a
    /// prompt whose prefix a slot may have cached).
    var json: String { text ?? "null" }
    var isObject: Bool { object != nil }
}

/// What the answer must look like: OpenAI's `response_format`, and llama-server's `grammar` (GBNF) and
/// `json_schema` extensions. Both endpoints take them.
struct OutputFields: Decodable, Sendable {
    var responseFormat: ResponseFormat?
    var grammar: String?
    var jsonSchema: JSONNode?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case responseFormat = "response_format", grammar, jsonSchema = "json_schema"
    }

    init() {}

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        responseFormat = try c.decodeIfPresent(ResponseFormat.self, forKey: .responseFormat)
        grammar = try c.decodeIfPresent(String.self, forKey: .grammar)
        jsonSchema = try c.decodeIfPresent(JSONNode.self, forKey: .jsonSchema)
    }
}

/// `{"type": "text"}`, `{"type": "json_object"}` or `{"type": "json_schema", "json_schema": {...}}`.
struct ResponseFormat: Decodable, Sendable {
    enum Kind: String, Decodable, Sendable { case text, jsonObject = "json_object", jsonSchema = "json_schema" }
    let type: Kind
    let jsonSchema: SchemaSpec?

    /// `name` labels the schema for the caller; it is not shown to the model.
    struct SchemaSpec: Decodable, Sendable {
        let name: String?
        let description: String?
        let schema: JSONNode?
        let strict: Bool?

        enum CodingKeys: String, CodingKey, CaseIterable { case name, description, schema, strict }

        init(from decoder: Decoder) throws {
            try RequestFields.refuseUnknown(in: decoder, known: CodingKeys.allCases.map(\.rawValue), param: "response_format.json_schema")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            description = try c.decodeIfPresent(String.self, forKey: .description)
            schema = try c.decodeIfPresent(JSONNode.self, forKey: .schema)
            strict = try c.decodeIfPresent(Bool.self, forKey: .strict)
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case type, jsonSchema = "json_schema" }

    init(from decoder: Decoder) throws {
        try RequestFields.refuseUnknown(in: decoder, known: CodingKeys.allCases.map(\.rawValue), param: "response_format")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard let type = Kind(rawValue: try c.decode(String.self, forKey: .type)) else {
            throw APIError.invalid("response_format.type must be text, json_object or json_schema", param: "response_format")
        }
        self.type = type
        jsonSchema = try c.decodeIfPresent(SchemaSpec.self, forKey: .jsonSchema)
    }
}

/// `tools[]`: `{"type": "function", "function": {"name", "description", "parameters", "strict"}}`.
struct ToolField: Decodable, Sendable {
    let function: Function

    struct Function: Decodable, Sendable {
        let name: String
        let description: String?
        let parameters: JSONNode?
        let strict: Bool?

        enum CodingKeys: String, CodingKey, CaseIterable { case name, description, parameters, strict }

        init(from decoder: Decoder) throws {
            try RequestFields.refuseUnknown(in: decoder, known: CodingKeys.allCases.map(\.rawValue), param: "tools")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            description = try c.decodeIfPresent(String.self, forKey: .description)
            parameters = try c.decodeIfPresent(JSONNode.self, forKey: .parameters)
            strict = try c.decodeIfPresent(Bool.self, forKey: .strict)
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case type, function }

    init(from decoder: Decoder) throws {
        try RequestFields.refuseUnknown(in: decoder, known: CodingKeys.allCases.map(\.rawValue), param: "tools")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard try c.decode(String.self, forKey: .type) == "function" else {
            throw APIError.invalid("only tools of type function are supported", param: "tools")
        }
        function = try c.decode(Function.self, forKey: .function)
    }
}

/// `tool_choice`: "none", "auto", "required", or `{"type": "function", "function": {"name": ...}}`.
enum ToolChoice: Decodable, Sendable, Equatable {
    case none, auto, required, function(String)

    private struct Named: Decodable {
        let type: String
        let function: Name
        struct Name: Decodable { let name: String }
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try c.decodeStringIfString() {
            switch s {
            case "none": self = .none
            case "auto": self = .auto
            case "required": self = .required
            default: throw APIError.invalid("tool_choice must be none, auto, required or a function", param: "tool_choice")
            }
            return
        }
        let named = try c.decode(Named.self)
        guard named.type == "function" else { throw APIError.invalid("tool_choice.type must be function", param: "tool_choice") }
        self = .function(named.function.name)
    }
}
