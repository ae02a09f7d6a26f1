import Logging
import ReplyRules
import Synchronization

/// The rules in force, replaced whole when the Replies folder changes. Readers always see one
/// complete, validated rule book: a folder that fails validation leaves the last good one serving.
public final class LiveRules: Sendable {
    /// The folder the rules come from.
    public let directory: String
    private let state: Mutex<State>
    private let logger: Logger

    private struct State {
        var engine: RuleEngine
        var fingerprint: [String]
        var generation: Int
    }

    /// Loads the folder for the first time.
    ///
    /// - Throws: ``RuleProblems`` when the folder has errors: a server should not start on them.
    public init(directory: String, logger: Logger) throws {
        self.directory = directory
        self.logger = logger
        let fingerprint = RepliesFolder.fingerprint(of: directory)
        let book = try RuleBookLoader().load(directory: directory)
        for warning in book.warnings { logger.warning("\(warning)") }
        state = Mutex(State(engine: RuleEngine(book: book), fingerprint: fingerprint, generation: 1))
    }

    /// Serves a fixed rule book, for tests and tools.
    public init(book: RuleBook, logger: Logger) {
        directory = ""
        self.logger = logger
        state = Mutex(State(engine: RuleEngine(book: book), fingerprint: [], generation: 1))
    }

    /// The engine in force.
    public var engine: RuleEngine { state.withLock { $0.engine } }

    /// How many times rules were loaded successfully (1 after start).
    public var generation: Int { state.withLock { $0.generation } }

    /// The outcome of a reload.
    public enum ReloadResult: Sendable, Equatable {
        /// Nothing changed on disk.
        case unchanged
        /// New rules are in force.
        case reloaded
        /// The folder has errors; the previous rules stay in force.
        case rejected([RuleProblem])
    }

    /// Reloads if the folder changed since the last attempt (or always, when `force`).
    @discardableResult
    public func reloadIfChanged(force: Bool = false) -> ReloadResult {
        guard !directory.isEmpty else { return .unchanged }
        let fingerprint = RepliesFolder.fingerprint(of: directory)
        let changed = state.withLock { state -> Bool in
            guard force || state.fingerprint != fingerprint else { return false }
            state.fingerprint = fingerprint  // a failed attempt is not retried until the next save
            return true
        }
        guard changed else { return .unchanged }
        do {
            let book = try RuleBookLoader().load(directory: directory)
            let engine = RuleEngine(book: book)
            let generation = state.withLock { state in
                state.engine = engine
                state.generation += 1
                return state.generation
            }
            for warning in book.warnings { logger.warning("\(warning)") }
            logger.info(
                "reply rules reloaded", metadata: ["rules": "\(book.rules.count)", "generation": "\(generation)"])
            return .reloaded
        } catch let problems as RuleProblems {
            for problem in problems.problems {
                logger.error("\(problem)")
            }
            logger.error("reply rules not reloaded; the previous rules stay in force")
            return .rejected(problems.problems)
        } catch {
            logger.error("reply rules not reloaded: \(error)")
            return .rejected([])
        }
    }
}
