// swift-tools-version: 6.1
import PackageDescription

// OpenMP for the C kernels. The Swift toolchain's clang compiles the C target; omp.h and libomp
// come from the system:
//  - Linux: Debian's libomp-dev (LLVM 14), which tools/ci/install-deps.sh installs; the scripts that
//    compile CSIMD outside SwiftPM take the same two paths from tools/ci/omp-paths.sh.
//  - macOS: Homebrew's libomp (`brew install libomp`); Apple's clang takes OpenMP only through
//    -Xclang. Written from the toolchains' documentation, not built here (no Mac in this workplace).
// These are unsafeFlags, which SwiftPM accepts in a root package and in a dependency given by path
// or branch, not in one given by version (README: "Embedding the library").
let linuxOMPInclude = "/usr/lib/llvm-14/lib/clang/14.0.6/include"
let linuxOMPLib = "/usr/lib/llvm-14/lib"
let macOMP = "/opt/homebrew/opt/libomp"

let cFlags: [CSetting] = [
    .unsafeFlags(["-O3", "-fno-math-errno"]),
    .unsafeFlags(["-fopenmp", "-I\(linuxOMPInclude)"], .when(platforms: [.linux])),
    .unsafeFlags(["-Xclang", "-fopenmp", "-I\(macOMP)/include"], .when(platforms: [.macOS])),
]
let ompLinking: [LinkerSetting] = [
    .linkedLibrary("omp"),
    .unsafeFlags(["-L\(linuxOMPLib)", "-Xlinker", "-rpath", "-Xlinker", linuxOMPLib], .when(platforms: [.linux])),
    .unsafeFlags(["-L\(macOMP)/lib", "-Xlinker", "-rpath", "-Xlinker", "\(macOMP)/lib"], .when(platforms: [.macOS])),
]

let package = Package(
    name: "dolly",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "DollyKit", targets: ["DollyKit"]),
        .library(name: "DollyServer", targets: ["DollyServer"]),
        // libdolly, the C API (Sources/CDolly/include/dolly.h): shared and static. SwiftPM names the
        // files after the products (libDollyC.so, libDollyCStatic.a); `dolly` is the CLI's name.
        .library(name: "DollyC", type: .dynamic, targets: ["DollyC"]),
        .library(name: "DollyCStatic", type: .static, targets: ["DollyC"]),
        .executable(name: "dolly", targets: ["dolly"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // The HTTP server (DollyServer only: DollyKit keeps no dependencies) and its tests' client.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
    ],
    targets: [
        .target(
            name: "CSIMD",
            path: "CSIMD",
            cSettings: cFlags,
            linkerSettings: ompLinking
        ),
        .target(
            name: "DollyKit",
            dependencies: ["CSIMD"],
            path: "Sources/DollyKit"
        ),
        // The C API's header (and nothing else: a C target needs one source file).
        .target(name: "CDolly", path: "Sources/CDolly"),
        // The C API: @_cdecl functions over DollyKit.
        .target(
            name: "DollyC",
            dependencies: ["DollyKit", "CDolly"],
            path: "Sources/DollyC"
        ),
        // `dolly serve`: OpenAI-compatible HTTP API over DollyKit's BatchEngine.
        .target(
            name: "DollyServer",
            dependencies: [
                "DollyKit",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Sources/DollyServer",
            // The chat page at GET / (ChatPage.swift), compiled into the binary: PackageResources.index_html etc.
            resources: [.embedInCode("WebUI/index.html"), .embedInCode("WebUI/chat.js"), .embedInCode("WebUI/chat.css")]
        ),
        .executableTarget(
            name: "dolly",
            dependencies: [
                "DollyKit",
                "DollyServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/dolly"
        ),
        // libFuzzer harness (tools/ci/fuzz.sh); without -DFUZZING a replay driver for found inputs.
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
        .testTarget(
            name: "DollyServerTests",
            dependencies: [
                "DollyServer",
                "DollyKit",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Tests/DollyServerTests"
        ),
    ]
)
