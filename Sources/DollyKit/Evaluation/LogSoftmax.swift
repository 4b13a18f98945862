#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum LogProb {
    /// log softmax(logits)[index], computed stably in double.
    static func of(_ index: Int, in logits: UnsafeBufferPointer<Float>) -> Double {
        var m = -Float.infinity
        for v in logits where v > m { m = v }
        var sum = 0.0
        for v in logits { sum += exp(Double(v - m)) }
        return Double(logits[index] - m) - log(sum)
    }

    /// The whole log softmax(logits), stably in double, into `out` (same count).
    static func all(_ logits: UnsafeBufferPointer<Float>, into out: inout [Double]) {
        var m = -Float.infinity
        for v in logits where v > m { m = v }
        // Through a pointer: an array's subscript costs a check per element in unoptimized builds
        // (the test suite's), where this runs for every position of evaluations.
        out.withUnsafeMutableBufferPointer { out in
            var sum = 0.0
            for i in 0..<logits.count {
                let d = Double(logits[i] - m)
                out[i] = d
                sum += exp(d)
            }
            let logSum = log(sum)
            for i in 0..<logits.count { out[i] -= logSum }
        }
    }
}
