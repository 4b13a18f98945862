import ArgumentParser
import DollyKit
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// stdout carries only the model's text; everything else goes to stderr.
enum Console {
    /// Unbuffered, so each token shows up the moment it is generated.
    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func note(_ text: String, terminator: String = "\n") {
        FileHandle.standardError.write(Data((text + terminator).utf8))
    }

    /// The options that change what a library error is about: the library describes values, the
    /// command line knows which flag sets them.
    static func flags(for error: Error) -> String? {
        switch error {
        case let e as ModelError:
            switch e {
            case .contextFull, .promptTooLong, .contextLength: return "--context"
            default: return nil
            }
        case let e as EvaluationError:
            switch e {
            case .windowTooSmall, .windowExceedsSession, .textTooShort: return "--context"
            case .promptExceedsContext: return "--context, --max-tokens"
            default: return nil
            }
        default: return nil
        }
    }

    /// Runs `body`, turning any error into one line on stderr and exit status 1.
    static func guarded(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            var message = (error as? LocalizedError)?.errorDescription ?? String(describing: error)
            if let flags = flags(for: error) { message += " (\(flags))" }
            note("dolly: error: \(message)")
            throw ExitCode.failure
        }
    }
}
