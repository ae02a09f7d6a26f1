import struct Foundation.Date

/// The current time in Unix seconds.
public enum UnixTime {
    /// Now, in whole seconds since 1970.
    public static func now() -> Int64 {
        Int64(Date().timeIntervalSince1970)
    }
}
