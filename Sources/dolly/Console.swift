import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// stdout carries only the model's text; everything else goes to stderr.
enum Console {
    static func write(_ text: String) {
        fputs(text, stdout)
        fflush(stdout)
    }

    static func note(_ text: String) {
        fputs(text + "\n", stderr)
    }

    /// Runs `body`, turning any error into one line on stderr and exit status 1.
    static func guarded(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            let message = (error as? LocalizedError)?.errorDescription ?? String(describing: error)
            fputs("dolly: error: \(message)\n", stderr)
            throw ExitCode.failure
        }
    }
}
