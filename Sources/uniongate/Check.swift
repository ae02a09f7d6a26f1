import ArgumentParser
import Logging
import ReplyRules
import UnionServices

extension UnionGate {
    /// `uniongate check`: validates the Replies folder and runs its conversation examples.
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the Replies folder and run its conversation examples.",
            discussion:
                "Prints every problem as path:line: message and exits non-zero if there is any error or failed example."
        )

        @OptionGroup var replies: RepliesOptions

        func run() async throws {
            let book: RuleBook
            do {
                book = try RuleBookLoader().load(directory: replies.replies)
            } catch let problems as RuleProblems {
                print(problems.description)
                let errors = problems.problems.filter { $0.severity == .error }.count
                print("检查未通过：\(errors) 个错误。")
                throw ExitCode(1)
            }
            for warning in book.warnings { print(warning) }
            let today = LocalTime(unixSeconds: UnixTime.now(), utcOffsetMinutes: book.settings.utcOffsetMinutes)
            if let warning = book.cases.calendarWarning(today: today) {
                let place = book.cases.holidaysSource ?? SourceLocation(path: "\(replies.replies)/cases.yaml", line: 1)
                print(RuleProblem(path: place.path, line: place.line, message: warning, severity: .warning))
            }

            // Examples run against a throwaway store, so checking never touches real data.
            let failures = await RulesChecker.runExamples(of: book, startTime: UnixTime.now())
            for failure in failures { print(failure) }
            let steps = book.examples.reduce(0) { $0 + $1.steps.count }
            if failures.isEmpty {
                print("检查通过：\(book.rules.count) 条规则，\(book.examples.count) 个示例（\(steps) 步）全部符合预期。")
            } else {
                print("检查未通过：\(failures.count) 处示例不符合预期。")
                throw ExitCode(1)
            }
        }
    }
}
