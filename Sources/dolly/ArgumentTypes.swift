import ArgumentParser
import DollyKit

// The library's closed choices, parsed (and listed in --help) by swift-argument-parser.
extension QuantizationRecipe: ExpressibleByArgument {}
extension EvalTask: ExpressibleByArgument {}
extension QuantWeighting: ExpressibleByArgument {}
