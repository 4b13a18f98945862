/// A grammar flattened for the recognizer: every rule is a list of alternatives, each a run of
/// elements (a character class or a rule reference) ended by `end`, all in one array so that a
/// position is one integer. Repetitions and groups become generated rules here, so the recognizer
/// knows only three kinds of element. Immutable once built; shared by every generation using it.
public struct CompiledGrammar: Sendable {
    enum Kind: UInt8 { case end, chars, rule }

    /// Element kinds and arguments (class index for `chars`, rule index for `rule`), by position.
    let kinds: [Kind]
    let args: [Int32]
    /// The start position of each alternative, per rule; rule 0 is `root`.
    let alternatives: [[Int32]]
    let classes: [[ClosedRange<UInt32>]]
    /// Per class, the ASCII members as two 64-bit masks (most JSON bytes are ASCII: no range scan).
    let asciiBits: [(UInt64, UInt64)]
    let ruleNames: [String]

    /// Most elements a grammar may expand to (after repetitions), so no request can make it huge.
    static let maxElements = 200_000
    /// Most rules, named and generated: the analyses are quadratic in a chain of rules.
    static let maxRules = 20_000

    func classContains(_ cls: Int32, _ c: UInt32) -> Bool {
        if c < 128 {
            let bits = asciiBits[Int(cls)]
            return c < 64 ? bits.0 >> c & 1 == 1 : bits.1 >> (c - 64) & 1 == 1
        }
        return CharacterRanges.contains(classes[Int(cls)], c)
    }

    func classIntersects(_ cls: Int32, _ lo: UInt32, _ hi: UInt32) -> Bool {
        CharacterRanges.intersects(classes[Int(cls)], lo, hi)
    }
}

extension CompiledGrammar {
    /// Parses and compiles GBNF text (llama.cpp's syntax; see `GBNFParser` for the subset).
    public init(gbnf: String) throws {
        try self.init(rules: GBNFParser.parse(gbnf))
    }

    init(rules definitions: [GrammarRuleDefinition]) throws {
        var lowering = GrammarLowering()
        try lowering.declare(definitions)
        for d in definitions { try lowering.lower(d) }
        self = try lowering.finish()
    }
}

/// Turns parsed rules into the flat form, then checks what would make the recognizer misbehave:
/// left recursion (it would loop) and rules that can never finish (their alternatives are dropped;
/// a root that can never finish is an error).
struct GrammarLowering {
    typealias Element = (kind: CompiledGrammar.Kind, arg: Int32)
    private var names: [String] = []
    private var ids: [String: Int] = [:]
    private var bodies: [[[Element]]] = []
    private var classes: [[ClosedRange<UInt32>]] = []
    private var classIds: [[ClosedRange<UInt32>]: Int32] = [:]
    private var elementCount = 0

    mutating func declare(_ definitions: [GrammarRuleDefinition]) throws {
        // root first, so it is rule 0.
        guard definitions.contains(where: { $0.name == "root" }) else { throw GrammarError.missingRoot }
        guard definitions.count <= CompiledGrammar.maxRules else {
            throw GrammarError.tooLarge("more than \(CompiledGrammar.maxRules) rules")
        }
        _ = newRule("root")
        for d in definitions where d.name != "root" {
            if ids[d.name] != nil { throw GrammarError.duplicateRule(name: d.name, line: d.line, column: d.column) }
            _ = newRule(d.name)
        }
        let roots = definitions.filter { $0.name == "root" }
        if roots.count > 1 { throw GrammarError.duplicateRule(name: "root", line: roots[1].line, column: roots[1].column) }
    }

    private mutating func newRule(_ name: String) -> Int {
        ids[name] = names.count
        names.append(name)
        bodies.append([])
        return names.count - 1
    }

    private mutating func anonymousRule(_ parent: Int) throws -> Int {
        guard names.count < CompiledGrammar.maxRules else {
            throw GrammarError.tooLarge("more than \(CompiledGrammar.maxRules) rules after expanding groups and repetitions")
        }
        let id = names.count
        names.append("\(names[parent])-\(id)")
        bodies.append([])
        return id
    }

    mutating func lower(_ d: GrammarRuleDefinition) throws {
        let id = ids[d.name]!
        bodies[id] = try lowerAlternatives(d.body, rule: id)
    }

    private mutating func lowerAlternatives(_ node: GrammarNode, rule: Int) throws -> [[Element]] {
        if case let .alternatives(alts) = node {
            return try alts.map { try lowerSequence($0, rule: rule) }
        }
        return [try lowerSequence(node, rule: rule)]
    }

    private mutating func lowerSequence(_ node: GrammarNode, rule: Int) throws -> [Element] {
        var out: [Element] = []
        try append(node, rule: rule, to: &out)
        return out
    }

    private mutating func count(_ n: Int) throws {
        elementCount += n
        if elementCount > CompiledGrammar.maxElements {
            throw GrammarError.tooLarge("more than \(CompiledGrammar.maxElements) elements after expanding repetitions")
        }
    }

    private mutating func append(_ node: GrammarNode, rule: Int, to out: inout [Element]) throws {
        switch node {
        case let .sequence(items):
            for item in items { try append(item, rule: rule, to: &out) }
        default:
            try count(1)
            out.append(try element(node, rule: rule))
        }
    }

    /// One element standing for `node`: a class, a reference, or a generated rule.
    private mutating func element(_ node: GrammarNode, rule: Int) throws -> Element {
        switch node {
        case let .chars(ranges):
            if let id = classIds[ranges] { return (.chars, id) }
            classes.append(ranges)
            classIds[ranges] = Int32(classes.count - 1)
            return (.chars, Int32(classes.count - 1))
        case let .ref(name, line, column):
            guard let id = ids[name] else { throw GrammarError.unknownRule(name: name, line: line, column: column) }
            return (.rule, Int32(id))
        case .sequence, .alternatives:
            let id = try anonymousRule(rule)
            bodies[id] = try lowerAlternatives(node, rule: id)
            return (.rule, Int32(id))
        case let .repeated(inner, low, high):
            let item = try element(inner, rule: rule)
            let id = try anonymousRule(rule)
            var body = [Element](repeating: item, count: low)
            try count(low + 2)
            if let high {
                // x{m,n}: m copies, then n-m nested optionals (opt_k ::= x opt_{k-1} | ε), linear in n.
                var tail: Element?
                for _ in 0..<(high - low) {
                    let opt = try anonymousRule(rule)
                    bodies[opt] = [tail.map { [item, $0] } ?? [item], []]
                    try count(3)
                    tail = (.rule, Int32(opt))
                }
                if let tail { body.append(tail) }
            } else {
                // x{m,}: m copies, then star ::= x star | ε (right recursion: the stack does not grow).
                let star = try anonymousRule(rule)
                bodies[star] = [[item, (.rule, Int32(star))], []]
                try count(3)
                body.append((.rule, Int32(star)))
            }
            bodies[id] = [body]
            return (.rule, Int32(id))
        }
    }

    mutating func finish() throws -> CompiledGrammar {
        let productive = GrammarAnalysis.productive(bodies, classes: classes)
        guard productive[0] else { throw GrammarError.emptyLanguage(rule: "root") }
        // Drop alternatives that can never finish: the recognizer would follow them into a dead end.
        for r in bodies.indices {
            bodies[r] = bodies[r].filter { alt in
                alt.allSatisfy { $0.kind == .chars ? !classes[Int($0.arg)].isEmpty : productive[Int($0.arg)] }
            }
        }
        if let looping = GrammarAnalysis.leftRecursiveRule(bodies) {
            throw GrammarError.leftRecursion(rule: names[looping])
        }
        var kinds: [CompiledGrammar.Kind] = []
        var args: [Int32] = []
        var starts: [[Int32]] = []
        for body in bodies {
            var ruleStarts: [Int32] = []
            for alt in body {
                ruleStarts.append(Int32(kinds.count))
                for e in alt {
                    kinds.append(e.kind)
                    args.append(e.arg)
                }
                kinds.append(.end)
                args.append(0)
            }
            starts.append(ruleStarts)
        }
        let ascii = classes.map { ranges -> (UInt64, UInt64) in
            var bits: (UInt64, UInt64) = (0, 0)
            for c in UInt32(0)..<128 where CharacterRanges.contains(ranges, c) {
                if c < 64 { bits.0 |= 1 << c } else { bits.1 |= 1 << (c - 64) }
            }
            return bits
        }
        return CompiledGrammar(kinds: kinds, args: args, alternatives: starts, classes: classes,
                               asciiBits: ascii, ruleNames: names)
    }
}

/// Fixed points over the rule graph.
enum GrammarAnalysis {
    typealias Element = GrammarLowering.Element

    /// Rules that can finish (match some finite string).
    static func productive(_ bodies: [[[Element]]], classes: [[ClosedRange<UInt32>]]) -> [Bool] {
        var result = [Bool](repeating: false, count: bodies.count)
        var changed = true
        while changed {
            changed = false
            for r in bodies.indices where !result[r] {
                let ok = bodies[r].contains { alt in
                    alt.allSatisfy { $0.kind == .chars ? !classes[Int($0.arg)].isEmpty : result[Int($0.arg)] }
                }
                if ok { result[r] = true; changed = true }
            }
        }
        return result
    }

    /// A rule that can reach itself through references preceded only by nullable elements, if any.
    static func leftRecursiveRule(_ bodies: [[[Element]]]) -> Int? {
        var nullable = [Bool](repeating: false, count: bodies.count)
        var changed = true
        while changed {
            changed = false
            for r in bodies.indices where !nullable[r] {
                if bodies[r].contains(where: { alt in alt.allSatisfy { $0.kind == .rule && nullable[Int($0.arg)] } }) {
                    nullable[r] = true
                    changed = true
                }
            }
        }
        // Edges r -> s for every s a derivation of r can start with, then a cycle search (iterative).
        var edges = [[Int]](repeating: [], count: bodies.count)
        for r in bodies.indices {
            for alt in bodies[r] {
                for e in alt {
                    guard e.kind == .rule else { break }
                    edges[r].append(Int(e.arg))
                    if !nullable[Int(e.arg)] { break }
                }
            }
        }
        var color = [UInt8](repeating: 0, count: bodies.count)  // 0 new, 1 on the path, 2 done
        for start in bodies.indices where color[start] == 0 {
            var path: [(rule: Int, next: Int)] = [(start, 0)]
            color[start] = 1
            while let top = path.last {
                if top.next < edges[top.rule].count {
                    path[path.count - 1].next += 1
                    let s = edges[top.rule][top.next]
                    if color[s] == 1 { return s }
                    if color[s] == 0 {
                        color[s] = 1
                        path.append((s, 0))
                    }
                } else {
                    color[top.rule] = 2
                    path.removeLast()
                }
            }
        }
        return nil
    }
}
