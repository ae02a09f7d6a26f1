// swift-tools-version:6.1
import PackageDescription

// Layers, one way: WeChatWire (protocol, no server) → rules → services and storage → server → `uniongate`.
let package = Package(
    name: "UnionGate",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "WeChatWire", targets: ["WeChatWire"]),
        .executable(name: "uniongate", targets: ["uniongate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        .target(
            name: "WeChatWire",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "uniongate",
            dependencies: [
                "WeChatWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "wire-benchmark",
            dependencies: ["WeChatWire"],
            path: "Benchmarks/WireBenchmark"
        ),
        .testTarget(
            name: "WeChatWireTests",
            dependencies: [
                "WeChatWire",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
