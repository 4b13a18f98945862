#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Bounds-checked little-endian access to mapped bytes. Every offset in a checkpoint comes from
/// untrusted data, so reads return nil instead of trapping and ranges are overflow-safe.
extension UnsafeRawBufferPointer {
    /// The range `offset ..< offset+length` if it lies wholly inside the buffer.
    func checkedRange(_ offset: Int, _ length: Int) -> Range<Int>? {
        guard offset >= 0, length >= 0 else { return nil }
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow, end <= count else { return nil }
        return offset..<end
    }

    /// A zero-copy sub-buffer, or nil if it does not fit.
    func checkedSlice(_ offset: Int, _ length: Int) -> UnsafeRawBufferPointer? {
        guard let r = checkedRange(offset, length) else { return nil }
        return UnsafeRawBufferPointer(rebasing: self[r])
    }

    /// A little-endian integer at `offset`, or nil if it does not fit.
    func le<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T? {
        guard checkedRange(offset, MemoryLayout<T>.size) != nil, let base = baseAddress else { return nil }
        return T(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

/// Overflow-safe arithmetic on sizes read from files.
enum Checked {
    static func multiply(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        return o ? nil : r
    }

    static func add(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? nil : r
    }

    /// Product of non-negative dimensions, or nil on a negative dimension or overflow.
    static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0, let m = multiply(n, d) else { return nil }
            n = m
        }
        return n
    }
}
