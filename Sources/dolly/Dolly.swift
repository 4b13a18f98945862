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
                      ServeCommand.self, ImatrixCommand.self]
    )
}
