import Foundation

/// Text a user hands the CLI: a UTF-8 file, or standard input.
enum TextFile {
    struct ReadError: LocalizedError {
        let message: String
        var errorDescription: String? { message }
    }

    /// The whole file as UTF-8 text; one clear error if it is missing, unreadable or not UTF-8.
    static func read(_ path: String, what: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ReadError(message: "\(what): no such file: \(path)")
        }
        guard !isDirectory.boolValue else { throw ReadError(message: "\(what): \(path) is a folder, not a file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ReadError(message: "\(what): cannot read \(path)")
        }
        return try decode(data, what: "\(what) \(path)")
    }

    /// All of standard input as UTF-8 text.
    static func readStandardInput(what: String) throws -> String {
        try decode(FileHandle.standardInput.readDataToEndOfFile(), what: what)
    }

    private static func decode(_ data: Data, what: String) throws -> String {
        guard let text = String(data: data, encoding: .utf8) else { throw ReadError(message: "\(what) is not UTF-8 text") }
        return text
    }
}
