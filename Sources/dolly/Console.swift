import ArgumentParser
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

    /// Runs `body`, turning any error into one line on stderr and exit status 1.
    static func guarded(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            let message = (error as? LocalizedError)?.errorDescription ?? String(describing: error)
            note("dolly: error: \(message)")
            throw ExitCode.failure
        }
    }
}
