#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A function the model may call: OpenAI's `tools[].function`.
public struct ToolDefinition: Sendable, Equatable {
    public var name: String
    public var description: String?
    /// The arguments' JSON Schema as JSON text; nil: any JSON object.
    public var parameters: String?

    public init(name: String, description: String? = nil, parameters: String? = nil) {
        self.name = name
        self.description = description
        self.parameters = parameters
    }

    /// OpenAI's rule for function names: letters, digits, `_` and `-`, at most 64.
    public var hasValidName: Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-") }
    }
}

/// The grammar of a tool call: one JSON object `{"name": NAME, "arguments": ARGS}` where NAME is one
/// of the tools' names and ARGS matches that tool's parameter schema. The name comes first, so a
/// reader knows which function is called before its arguments arrive (`ToolCallReader`).
public enum ToolCallGrammar {
    /// GBNF for a call of one of `tools`; `orText`: a call or free text (text that does not start
    /// with `{` or whitespace, so that the first character tells which).
    public static func gbnf(tools: [ToolDefinition], orText: Bool) throws -> String {
        guard !tools.isEmpty else { throw GrammarError.invalidSchema(path: "tools", message: "no tools") }
        var compiler = JSONSchemaGrammar.Compiler(root: .object([:]))
        var alternatives: [String] = []
        for (i, tool) in tools.enumerated() {
            let path = "tools[\(i)].function.parameters"
            guard tool.hasValidName else {
                throw GrammarError.invalidSchema(path: "tools[\(i)].function.name",
                                                 message: "a name is 1 to 64 letters, digits, '_' or '-'")
            }
            var arguments = "object"
            if let text = tool.parameters {
                guard var schema = (try? JSONNode(parsing: text))?.object else {
                    throw GrammarError.invalidSchema(path: path, message: "must be a JSON Schema object")
                }
                // Arguments are always an object (OpenAI's rule; `ToolCallReader` relies on it).
                switch schema["type"] {
                case nil: schema["type"] = .string("object")
                case .string("object")?: break
                default: throw GrammarError.invalidSchema(path: path + "/type", message: "a function's parameters must be of type object")
                }
                compiler.root = .object(schema)
                arguments = try compiler.expression(.object(schema), path: path)
            }
            let name = #""\"\#(tool.name)\"" ws"#
            alternatives.append("\(name) \",\" ws \"\\\"arguments\\\"\" ws \":\" ws \(arguments)")
        }
        var gbnf = "call ::= \"{\" ws \"\\\"name\\\"\" ws \":\" ws (" + alternatives.joined(separator: " | ") + ") \"}\" ws\n"
        if orText {
            gbnf = "root ::= call | text\ntext ::= [^{ \\t\\n\\r\\x00] [^\\x00]*\n" + gbnf
        } else {
            gbnf = "root ::= call\n" + gbnf
        }
        return gbnf + compiler.rules.joined(separator: "\n") + "\n" + JSONSchemaGrammar.baseRules
    }
}

/// Reads a tool call as it is generated (the shape `ToolCallGrammar` allows): first whether the output
/// is a call at all, then the function's name, then the arguments' JSON text in pieces, so that a
/// server can stream them as OpenAI does (`delta.tool_calls[].function.arguments`).
public struct ToolCallReader: Sendable {
    public enum Event: Equatable, Sendable {
        /// The output is not a call: this text (and all that follows) is the answer.
        case text(String)
        /// The called function's name (once).
        case name(String)
        /// The next piece of the arguments' JSON text.
        case arguments(String)
    }

    private enum Phase: Sendable { case start, header, arguments, after, text }
    private var phase = Phase.start
    private var header = ""
    private var depth = 0
    private var inString = false
    private var escaped = false
    public private(set) var name: String?
    public private(set) var arguments = ""

    public init() {}

    /// Whether the output is a call (nil until its first character).
    public var isCall: Bool? {
        switch phase {
        case .start: return nil
        case .text: return false
        default: return true
        }
    }

    /// Whether a whole call (name and arguments) has been read.
    public var isComplete: Bool { phase == .after }

    /// The events `piece` (the next generated text) completes. Scalars, not Characters: a combining
    /// mark after a quote must not hide the quote.
    public mutating func feed(_ piece: String) -> [Event] {
        var events: [Event] = []
        var rest = Substring(piece).unicodeScalars[...]
        while !rest.isEmpty {
            switch phase {
            case .start:
                rest = rest.drop { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
                guard let first = rest.first else { return events }
                phase = first == "{" ? .header : .text
            case .text:
                events.append(.text(String(String.UnicodeScalarView(rest))))
                return events
            case .header:
                header.unicodeScalars += rest
                rest = rest[rest.endIndex...]
                guard let (found, used) = Self.parseHeader(header) else { continue }
                name = found
                events.append(.name(found))
                phase = .arguments
                let scalars = header.unicodeScalars
                rest = scalars[scalars.index(scalars.startIndex, offsetBy: used)...]
                header = ""
            case .arguments:
                // The arguments are an object: they end where its braces balance.
                var end = rest.endIndex
                for index in rest.indices {
                    let c = rest[index]
                    if inString {
                        if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
                    } else if c == "\"" {
                        inString = true
                    } else if c == "{" || c == "[" {
                        depth += 1
                    } else if c == "}" || c == "]" {
                        depth -= 1
                        if depth == 0 {
                            end = rest.index(after: index)
                            phase = .after
                            break
                        }
                    }
                }
                let taken = String(String.UnicodeScalarView(rest[..<end]))
                if !taken.isEmpty {
                    arguments += taken
                    events.append(.arguments(taken))
                }
                rest = rest[end...]
            case .after:
                rest = rest[rest.endIndex...]  // the call's closing brace and whitespace
            }
        }
        return events
    }

    /// `{ "name": "NAME", "arguments":` with any JSON whitespace: the name and the scalars used;
    /// nil while incomplete.
    static func parseHeader(_ text: String) -> (String, Int)? {
        let chars = Array(text.unicodeScalars)
        var i = 0
        func skipSpace() { while i < chars.count, chars[i] == " " || chars[i] == "\n" || chars[i] == "\t" || chars[i] == "\r" { i += 1 } }
        func expect(_ literal: String) -> Bool {
            for c in literal.unicodeScalars {
                guard i < chars.count, chars[i] == c else { return false }
                i += 1
            }
            return true
        }
        skipSpace()
        guard expect("{") else { return nil }
        skipSpace()
        guard expect("\"name\"") else { return nil }
        skipSpace()
        guard expect(":") else { return nil }
        skipSpace()
        guard expect("\"") else { return nil }
        var name = String.UnicodeScalarView()
        while i < chars.count, chars[i] != "\"" { name.append(chars[i]); i += 1 }
        guard expect("\"") else { return nil }
        skipSpace()
        guard expect(",") else { return nil }
        skipSpace()
        guard expect("\"arguments\"") else { return nil }
        skipSpace()
        guard expect(":") else { return nil }
        skipSpace()
        guard i < chars.count else { return nil }  // wait for the arguments' first character
        return (String(name), i)
    }
}
