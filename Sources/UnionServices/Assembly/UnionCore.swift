import Logging
import ReplyRules

/// The union's side of the gateway wired together, without HTTP: the store, the rules in force,
/// the services and the dispatcher that answers members. `uniongate serve` (through
/// `buildApplication`), `chat`, `check` and the tests all build it here, so the wiring is
/// written once.
public struct UnionCore: Sendable {
    /// The store.
    public let store: UnionStore
    /// The rules in force.
    public let rules: LiveRules
    /// Members whose notices WeChat would not deliver, shown in front of their next reply.
    public let held: HeldNotices
    /// The built-in services.
    public let services: UnionServiceDesk
    /// What answers members: the services and the rules.
    public let dispatcher: Dispatcher
    /// Messages waiting for the database to write again.
    public let journal: InboundJournal
    /// Messages and new followers per day, waiting to be added to the store.
    public let counts: DailyCounts

    /// What can be chosen when building: everything has a default.
    public struct Options: Sendable {
        /// The gateway's public https address, for links.
        public var publicURL: String?
        /// Who else counts as a member (for examples that play one).
        public var extraMembers: (any MembershipDirectory)?
        /// The services the dispatcher hands to, in place of the built-in desk (tests).
        public var desk: (@Sendable (UnionStore) -> any ServiceDesk)?
        /// The current Unix time.
        public var unixTime: @Sendable () -> Int64 = UnixTime.now
        /// Where the journal is kept, in place of its usual place beside the database.
        public var journalPath: String?
        /// How members reach their pages (`/m/`); nil where no pages are served (`chat`, `check`).
        public var memberPages: UnionServiceDesk.MemberPages?

        /// The defaults.
        public init() {}
    }

    /// Opens the store at `databasePath` (`:memory:` for a throwaway one), brings its schema up
    /// to date, and wires the services and the dispatcher over it and `rules`.
    public static func open(databasePath: String, rules: LiveRules, options: Options = Options(), logger: Logger)
        async throws -> UnionCore
    {
        let store = try await UnionStore.open(path: databasePath, logger: logger)
        do {
            let held = HeldNotices()
            let services = try await UnionServiceDesk.open(
                store: store, publicURL: options.publicURL, logger: logger, extraMembers: options.extraMembers,
                held: held, memberPages: options.memberPages)
            let journal =
                try options.journalPath.map { try InboundJournal(path: $0) } ?? InboundJournal.beside(store.location)
            if !journal.pending.isEmpty {
                logger.warning(
                    "messages wait in the journal from an earlier run; they are replayed once the database writes",
                    metadata: ["count": "\(journal.pending.count)"])
            }
            let counts = DailyCounts(acrossInstances: store.dialect.sharedByInstances)
            let dispatcher = Dispatcher(
                rules: rules, services: options.desk?(store) ?? services, membership: services.members,
                logger: logger, clock: options.unixTime, journal: journal, counts: counts,
                turns: MemberTurns(store: store))
            return UnionCore(
                store: store, rules: rules, held: held, services: services, dispatcher: dispatcher, journal: journal,
                counts: counts)
        } catch {
            await store.close()
            throw error
        }
    }
}
