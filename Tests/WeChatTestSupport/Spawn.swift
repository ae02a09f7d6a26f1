import Foundation

/// Starts `arguments[0]` with `arguments` and `environment`, its stdin from /dev/null and its
/// stdout and stderr into `output` (appended to, or truncated), in a session of its own when
/// `newSession`; returns its pid, for the caller to reap with `waitpid`. Spawned directly, not
/// through Foundation's `Process`: nothing the tests wait on is held by the child.
public func spawnProcess(
    _ arguments: [String], environment: [String: String], output: String, append: Bool = false,
    newSession: Bool = false
) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    if newSession { posix_spawnattr_setflags(&attributes, 0x80) }  // POSIX_SPAWN_SETSID (glibc; not imported)
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for pointer in argv { free(pointer) }
        for pointer in envp { free(pointer) }
    }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
    guard result == 0 else { throw TestPostgresError("\(arguments[0]) could not be started (error \(result))") }
    return pid
}
