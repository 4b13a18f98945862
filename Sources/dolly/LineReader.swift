import DollyKit
#if canImport(Glibc)
import Glibc
#endif

/// Lines of standard input, read with read(2) so that Ctrl-C (EINTR, with the Interrupt handler
/// installed) ends the wait for input instead of being retried inside stdio.
final class LineReader {
    private var buffer: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 4096)
    private var atEnd = false

    /// The next line without its "\n" or "\r\n" (invalid UTF-8 shown as U+FFFD); nil at end of
    /// input or once Ctrl-C has been pressed while waiting.
    func next() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                var line = buffer[..<newline]
                if line.last == 0x0D { line = line.dropLast() }
                defer { buffer.removeFirst(newline + 1) }
                return String(decoding: line, as: UTF8.self)
            }
            if atEnd {
                guard !buffer.isEmpty else { return nil }
                defer { buffer.removeAll() }
                return String(decoding: buffer, as: UTF8.self)
            }
            let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n > 0 {
                buffer.append(contentsOf: chunk[..<n])
            } else if n < 0 && errno == EINTR {
                if Interrupt.requested { return nil }
            } else {
                atEnd = true
            }
        }
    }
}
