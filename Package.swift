// swift-tools-version:6.1
import PackageDescription

// Layers, one way:
// WeChatWire (protocol, no server) → WeChatAPI (calls to WeChat) and ReplyRules → UnionServices (services and storage)
// → UnionGateServer (HTTP) → `uniongate` (a thin command).
let package = Package(
    name: "UnionGate",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "WeChatWire", targets: ["WeChatWire"]),
        .executable(name: "uniongate", targets: ["uniongate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.20"),
        .package(url: "https://github.com/yaslab/CSV.swift.git", from: "2.5.2"),
    ],
    targets: [
        .target(
            name: "WeChatWire",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "WeChatAPI",
            dependencies: [
                "WeChatWire",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "ReplyRules",
            dependencies: [
                "WeChatWire",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "UnionServices",
            dependencies: [
                "WeChatWire",
                "WeChatAPI",
                "ReplyRules",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                // Staff passwords: bcrypt, from a maintained library.
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                // The roster import reads .xlsx workbooks (ZIP archives) and CSV files.
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "CSV", package: "CSV.swift"),
            ]
        ),
        .target(
            name: "UnionGateServer",
            dependencies: [
                "WeChatWire",
                "ReplyRules",
                "UnionServices",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                // The webhook's fast lane is a channel handler on Hummingbird's own pipeline,
                // which the gateway sets up itself (HummingbirdCore's HTTP/1 channel parts).
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                // The web console: sessions from hummingbird-auth, pages from mustache templates.
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                "WeChatAPI",
            ],
            // Every HTML page's template (the console, the hotline page, the QR poster).
            resources: [.copy("Pages/Templates")]
        ),
        .executableTarget(
            name: "uniongate",
            dependencies: [
                "WeChatWire",
                "WeChatAPI",
                "ReplyRules",
                "UnionServices",
                "UnionGateServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Fuzz targets for libFuzzer (scripts/fuzz builds them with -sanitize=fuzzer -DFUZZING);
        // built plainly, it replays the seed corpus.
        .executableTarget(
            name: "uniongate-fuzz",
            dependencies: ["WeChatWire", "ReplyRules", "UnionServices"],
            path: "Fuzz/Sources",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .executableTarget(
            name: "wire-benchmark",
            dependencies: ["WeChatWire"],
            path: "Benchmarks/WireBenchmark"
        ),
        .executableTarget(
            name: "bench-tool",
            dependencies: ["WeChatWire"],
            path: "Benchmarks/BenchTool"
        ),
        .executableTarget(
            name: "soak-tool",
            dependencies: ["WeChatWire"],
            path: "Benchmarks/SoakTool"
        ),
        .executableTarget(
            name: "org-benchmark",
            dependencies: [
                "UnionServices", "ReplyRules",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SQLKit", package: "sql-kit"),
            ],
            path: "Benchmarks/OrgBenchmark",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .executableTarget(
            name: "bare-server",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            path: "Benchmarks/BareServer"
        ),
        .testTarget(
            name: "WeChatWireTests",
            dependencies: [
                "WeChatWire",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "ReplyRulesTests",
            dependencies: ["ReplyRules", "WeChatWire"]
        ),
        .testTarget(
            name: "UnionServicesTests",
            dependencies: [
                "UnionServices", "ReplyRules", "WeChatWire", "WeChatAPI", "WeChatTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SQLKit", package: "sql-kit"),
                // The roster tests write .xlsx workbooks as Excel does.
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),
        .testTarget(
            name: "WeChatAPITests",
            dependencies: [
                "WeChatAPI", "WeChatWire", "WeChatTestSupport", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A fake of WeChat's API on 127.0.0.1, shared by the test targets that call WeChat.
        .target(
            name: "WeChatTestSupport",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/WeChatTestSupport"
        ),
        // The `uniongate` command: its environment and its commands, run as staff and CI run them.
        .testTarget(
            name: "UniongateTests",
            dependencies: [
                "uniongate", "UnionGateServer", "UnionServices", "WeChatWire", "WeChatTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "UnionGateServerTests",
            dependencies: [
                "UnionGateServer",
                "WeChatAPI",
                "UnionServices",
                "ReplyRules",
                "WeChatWire",
                "WeChatTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SQLKit", package: "sql-kit"),
                // The hostile-text render test gives every template's every field one value.
                .product(name: "Mustache", package: "swift-mustache"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
