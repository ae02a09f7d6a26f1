/// A problem found in a rule file, with the file and line to fix.
///
/// Messages are in Chinese: the union's office staff read them in `uniongate check`.
public struct RuleProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// How serious a problem is.
    public enum Severity: String, Sendable, Hashable {
        /// The rules cannot be used: `check` fails and a running server keeps the last good rules.
        case error
        /// Worth fixing, but the rules work.
        case warning
    }

    /// The file, as given to the loader (relative to the Replies folder's parent when possible).
    public var path: String
    /// The line, counted from 1.
    public var line: Int
    /// What is wrong, in Chinese.
    public var message: String
    /// How serious it is.
    public var severity: Severity

    /// Creates a problem.
    public init(path: String, line: Int, message: String, severity: Severity = .error) {
        self.path = path
        self.line = line
        self.message = message
        self.severity = severity
    }

    /// `path:line: message`, with `warning: ` before the message of a warning.
    public var description: String {
        "\(path):\(line): \(severity == .warning ? "warning: " : "")\(message)"
    }
}

/// Every problem found while loading a Replies folder; thrown when at least one is an error.
public struct RuleProblems: Error, Sendable, CustomStringConvertible {
    /// The problems, in file and line order.
    public var problems: [RuleProblem]

    /// Creates the error.
    public init(_ problems: [RuleProblem]) {
        self.problems = problems
    }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Where something was written, for messages that point back at it.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    /// The file.
    public var path: String
    /// The line, counted from 1.
    public var line: Int

    /// Creates a location.
    public init(path: String, line: Int) {
        self.path = path
        self.line = line
    }

    public var description: String { "\(path):\(line)" }
}
