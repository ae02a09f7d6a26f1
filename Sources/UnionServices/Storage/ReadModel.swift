/// A type that reads other owners' tables directly, for figures that cross them in one query
/// (the console's overview, the statistics by unit), and never writes them. Every table has one
/// owner type, whose file alone names it (`scripts/check-tables`); a read model declares here the
/// tables it reads, and is the only other place that may name them.
protocol ReadModel {
    /// The tables read, each owned elsewhere.
    static var tablesRead: [String] { get }
}
