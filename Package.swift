// swift-tools-version: 6.1
import PackageDescription

// OpenMP comes from Debian's libomp-dev (LLVM 14). The Swift toolchain's clang compiles the C
// target; we only borrow omp.h and libomp.so from the Debian package.
let ompInclude = "/usr/lib/llvm-14/lib/clang/14.0.6/include"
let ompLib = "/usr/lib/llvm-14/lib"

let package = Package(
    name: "dolly",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "DollyKit", targets: ["DollyKit"]),
        .executable(name: "dolly", targets: ["dolly"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "CSIMD",
            path: "CSIMD",
            cSettings: [
                .unsafeFlags(["-fopenmp", "-I\(ompInclude)", "-O3", "-fno-math-errno"]),
            ],
            linkerSettings: [
                .linkedLibrary("omp"),
                .unsafeFlags(["-L\(ompLib)", "-Xlinker", "-rpath", "-Xlinker", ompLib]),
            ]
        ),
        .target(
            name: "DollyKit",
            dependencies: ["CSIMD"],
            path: "Sources/DollyKit"
        ),
        .executableTarget(
            name: "dolly",
            dependencies: [
                "DollyKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/dolly"
        ),
        // libFuzzer harness (tools/fuzz.sh); without -DFUZZING a replay driver for found inputs.
        .executableTarget(
            name: "dolly-fuzz",
            dependencies: ["DollyKit"],
            path: "Sources/dolly-fuzz"
        ),
        .testTarget(
            name: "DollyKitTests",
            dependencies: ["DollyKit", "CSIMD"],
            path: "Tests/DollyKitTests"
        ),
    ]
)
