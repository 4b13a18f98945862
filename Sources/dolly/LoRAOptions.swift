import ArgumentParser
import DollyKit

/// `--lora FILE [--lora-scale S]`: a run-time adapter on the session (commands that load one model);
/// `serve` reads the same option as `--lora name=FILE`, repeatable.
struct LoRAOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Apply this .dolly-lora adapter (from `dolly convert-lora`) at run time (serve: name=FILE, repeatable).",
                                            valueName: "FILE"))
    var lora: [String] = []

    @Option(name: .long, help: ArgumentHelp("Strength of --lora: S in W x + S·(alpha/r)·B A x (1: as trained, 0: the base).",
                                            valueName: "S"))
    var loraScale: Float = 1

    func validate() throws {
        guard loraScale.isFinite else { throw ValidationError("--lora-scale must be a finite number") }
        if lora.isEmpty && loraScale != 1 { throw ValidationError("--lora-scale needs --lora") }
    }

    /// The one adapter of a single-session command.
    var file: String? { lora.first }

    /// The adapter for `model`, or nil without --lora.
    func load(for model: DollyModel) throws -> LoRAAdapter? {
        guard let file else { return nil }
        guard lora.count == 1 else { throw ValidationError("--lora: one adapter (several are for serve, as name=FILE)") }
        return try LoRAAdapter(path: file, model: model.network)
    }

    /// Puts the adapter on `session`.
    func attach(to session: InferenceSession, model: DollyModel) throws {
        guard let adapter = try load(for: model) else { return }
        session.adapter = adapter
        session.adapterScale = loraScale
    }

    /// `serve`'s adapters: each value NAME=FILE.
    func named() throws -> [(name: String, path: String)] {
        guard loraScale == 1 else { throw ValidationError("serve applies adapters as trained: --lora-scale is for run and chat") }
        return try lora.map { value in
            guard let eq = value.firstIndex(of: "="), AdapterRegistry.isValidName(String(value[..<eq])),
                  value.index(after: eq) < value.endIndex else {
                throw ValidationError("--lora \(value): serve takes NAME=FILE (NAME: letters, digits, '.', '_', '-')")
            }
            return (String(value[..<eq]), String(value[value.index(after: eq)...]))
        }
    }
}
