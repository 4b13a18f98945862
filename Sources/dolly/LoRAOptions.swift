import ArgumentParser
import DollyKit

/// `--lora FILE [--lora-scale S]`: a run-time adapter on the session (commands that load one model).
struct LoRAOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Apply this .dolly-lora adapter (from `dolly convert-lora`) at run time.", valueName: "FILE"))
    var lora: String?

    @Option(name: .long, help: ArgumentHelp("Strength of --lora: S in W x + S·(alpha/r)·B A x (1: as trained, 0: the base).",
                                            valueName: "S"))
    var loraScale: Float = 1

    func validate() throws {
        guard loraScale.isFinite else { throw ValidationError("--lora-scale must be a finite number") }
        if lora == nil && loraScale != 1 { throw ValidationError("--lora-scale needs --lora") }
    }

    /// The adapter for `model`, or nil without --lora.
    func load(for model: DollyModel) throws -> LoRAAdapter? {
        guard let lora else { return nil }
        return try LoRAAdapter(path: lora, model: model.network)
    }

    /// Puts the adapter on `session`.
    func attach(to session: InferenceSession, model: DollyModel) throws {
        guard let adapter = try load(for: model) else { return }
        session.adapter = adapter
        session.adapterScale = loraScale
    }
}
