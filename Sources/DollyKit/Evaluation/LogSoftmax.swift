import Foundation

enum LogProb {
    /// log softmax(logits)[index], computed stably in double.
    static func of(_ index: Int, in logits: UnsafeBufferPointer<Float>) -> Double {
        var m = -Float.infinity
        for v in logits where v > m { m = v }
        var sum = 0.0
        for v in logits { sum += exp(Double(v - m)) }
        return Double(logits[index] - m) - log(sum)
    }
}
