import Foundation

/// Environment variables, read each time a value is asked for; an empty value counts as unset.
/// Flags override them; they override the defaults.
enum EnvironmentVariables {
    static func value(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }

    /// Whether a yes/no variable is set to yes (`1`, `true` or `yes`).
    static func flag(_ name: String) -> Bool {
        guard let value = value(name)?.lowercased() else { return false }
        return ["1", "true", "yes"].contains(value)
    }
}
