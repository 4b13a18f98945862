import ArgumentParser
import DollyKit
import Foundation

struct ConvertLoRACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert-lora",
        abstract: "Convert a PEFT LoRA adapter into a .dolly-lora file, applied at run time with --lora.",
        discussion: """
            The adapter is checked against the base model's shape: --base names the .dolly file or Hugging Face \
            folder it was trained on; without it, the adapter's base_model_name_or_path must name a published \
            Dolly v2 (databricks/dolly-v2-3b, -7b or -12b, or a folder of that name), whose shape is known. A and B are stored as f16 (default) or q8; the base stays as it is, so one model \
            file serves many adapters (dolly run --lora, dolly serve --lora name=FILE).
            """)

    @Argument(help: "The PEFT adapter folder (adapter_config.json and adapter_model.safetensors or .bin).")
    var adapter: String

    @Option(name: .long, help: "The base model: a .dolly file or a Hugging Face folder (its shape); default: the published Dolly v2 the adapter names.")
    var base: String?

    @Option(name: .shortAndLong, help: "The .dolly-lora file to write.")
    var output: String

    @Option(name: .long, help: "Element type of A and B: f16 (default), f32 (exact, twice the size) or q8 (half; needs a .dolly base).")
    var type: AdapterFile.ElementType = .f16

    @Flag(name: .long, help: "Replace the output even if it exists and is not a .dolly-lora file (never an input).")
    var force = false

    func run() throws {
        try Console.guarded {
            _ = try OutputGuard.check(output: output, inputs: [adapter] + (base.map { [$0] } ?? []), magic: AdapterFile.magic,
                                      kind: "a .dolly-lora file", force: force)
            let config: ModelConfig
            if let base {
                config = isDirectory(base) ? try LoRAMergeOptions.config(ofFolder: base) : try DollyFile(path: base).config
            } else {
                config = try publishedBase()
            }
            let peft = try PEFTAdapter(folder: URL(fileURLWithPath: adapter), config: config)
            let s = try AdapterFile.convert(peft, base: config, to: output, type: type)
            Console.note(String(format: "wrote %@: %d matrices, rank %d, %@, %.2f MB (%@)", output, s.matrices, s.rank,
                                type.rawValue, Double(s.bytes) / 1e6, s.identity))
        }
    }

    /// The shape of the published Dolly v2 the adapter's config names as its base.
    private func publishedBase() throws -> ModelConfig {
        struct Named: Decodable {
            let base_model_name_or_path: String?
        }
        let url = URL(fileURLWithPath: adapter).appendingPathComponent("adapter_config.json")
        let named = (try? Data(contentsOf: url)).flatMap { try? JSONDecoder().decode(Named.self, from: $0) }?.base_model_name_or_path
        guard let named, let config = ModelConfig.publishedDolly(named: named) else {
            throw ValidationError("the adapter's base_model_name_or_path (\(named ?? "none")) is not a published Dolly v2: "
                                  + "name its base model with --base FILE|FOLDER")
        }
        return config
    }

    private func isDirectory(_ path: String) -> Bool {
        var dir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &dir) && dir.boolValue
    }
}

extension AdapterFile.ElementType: ExpressibleByArgument {}
