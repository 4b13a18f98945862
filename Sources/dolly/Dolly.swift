import ArgumentParser
import DollyKit

@main
struct Dolly: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dolly",
        abstract: "Run Databricks' Dolly v2 on a CPU.",
        version: "dolly \(DollyVersion.string)",
        subcommands: [RunCommand.self, ChatCommand.self, ConvertCommand.self, InspectCommand.self, BenchCommand.self,
                      PerplexityCommand.self, CompareCommand.self, EvalCommand.self, TokenizeCommand.self,
                      ServeCommand.self, ImatrixCommand.self, ConvertLoRACommand.self]
    )

    /// ArgumentParser's own entry point, after one process-wide step: a model file truncated under a
    /// command becomes one line naming it and exit status 1, not a bare "Bus error" crash.
    static func main() async {
        MappingFault.install()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
