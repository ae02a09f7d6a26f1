import Foundation

#if FUZZING
    /// libFuzzer's entry point; the target is chosen by `UNIONGATE_FUZZ_TARGET`.
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
        FuzzTargets.run(selectedTarget, Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }

    /// libFuzzer's driver, which parses its flags and runs the input loop.
    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
    ) -> CInt

    /// The executable's entry point. SwiftPM links executables with `main` pointing at this
    /// name (so tests can link them); here it hands over to libFuzzer's driver.
    @_cdecl("uniongate_fuzz_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
        var argc = argc
        var argv = argv
        return runFuzzerDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) }
    }

    let selectedTarget: String = {
        guard let name = ProcessInfo.processInfo.environment["UNIONGATE_FUZZ_TARGET"], FuzzTargets.names.contains(name)
        else {
            fatalError("set UNIONGATE_FUZZ_TARGET to one of \(FuzzTargets.names)")
        }
        return name
    }()
#else
    /// Without the fuzzer: runs every file of the seed corpus (or the folders given) through
    /// its target once, so the corpus is checked by the ordinary build and tests.
    @main
    struct ReplayCorpus {
        static func main() throws {
            var arguments = Array(CommandLine.arguments.dropFirst())
            let root = arguments.isEmpty ? "Fuzz/corpus" : arguments.removeFirst()
            var total = 0
            for name in FuzzTargets.names {
                let folder = URL(fileURLWithPath: root).appendingPathComponent(name)
                let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
                for file in files.sorted() {
                    let bytes = try [UInt8](Data(contentsOf: folder.appendingPathComponent(file)))
                    FuzzTargets.run(name, bytes)
                    total += 1
                }
                print("\(name): \(files.count) inputs")
            }
            print("replayed \(total) inputs without a failure")
        }
    }
#endif
