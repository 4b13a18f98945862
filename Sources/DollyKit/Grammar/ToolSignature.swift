#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension ToolDefinition {
    /// The function as a short TypeScript-like line for the prompt, e.g.
    /// `get_weather(city: string, unit?: "celsius" | "fahrenheit")`: a small model reads it as well as
    /// the schema's JSON, in a third of the tokens (the context is 2048 tokens, the demo's 256).
    public var signature: String {
        guard let text = parameters, let schema = (try? JSONNode(parsing: text))?.object else { return "\(name)()" }
        return "\(name)(\(Self.fields(schema, root: schema)))"
    }

    private static func fields(_ schema: [String: JSONNode], root: [String: JSONNode]) -> String {
        let properties = schema["properties"]?.object ?? [:]
        let required = schema["required"]?.array?.compactMap(\.string) ?? []
        var order = required.filter { properties[$0] != nil }
        order += properties.keys.filter { !order.contains($0) }.sorted()
        return order.map { "\($0)\(required.contains($0) ? "" : "?"): \(type(properties[$0]!, root: root, depth: 0))" }
            .joined(separator: ", ")
    }

    private static func type(_ value: JSONNode, root: [String: JSONNode], depth: Int) -> String {
        guard depth < 8, let s = value.object else { return "any" }
        func literal(_ v: JSONNode) -> String { v.text(escapingSlashes: true) ?? "?" }
        if let ref = s["$ref"]?.string {
            var target = JSONNode.object(root)
            for part in ref.dropFirst().split(separator: "/") { target = target.object?[String(part)] ?? .object([:]) }
            return type(target, root: root, depth: depth + 1)
        }
        if let c = s["const"] { return literal(c) }
        if let e = s["enum"]?.array { return e.map(literal).joined(separator: " | ") }
        if let options = (s["anyOf"] ?? s["oneOf"])?.array {
            return options.map { type($0, root: root, depth: depth + 1) }.joined(separator: " | ")
        }
        let names = s["type"]?.array?.compactMap(\.string) ?? [s["type"]?.string ?? "any"]
        return names.map { name -> String in
            switch name {
            case "array": return type(s["items"] ?? .object([:]), root: root, depth: depth + 1) + "[]"
            case "object" where s["properties"] != nil: return "{" + fields(s, root: root) + "}"
            default: return name
            }
        }.joined(separator: " | ")
    }
}
