// swift-tools-version: 6.1
// A package that uses DollyKit the way an app would: by path (see README, "Embedding the library").
// CI builds and runs it against the repository's own DollyKit.
import PackageDescription

let package = Package(
    name: "dolly-consumer",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "dolly", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "dolly-consumer",
            dependencies: [.product(name: "DollyKit", package: "dolly")]
        ),
    ]
)
