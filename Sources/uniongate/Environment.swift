import Foundation

/// Environment variables, read each time a value is asked for; an empty value counts as unset.
/// Flags override them; they override the defaults.
enum EnvironmentVariables {
    static func value(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }
}
