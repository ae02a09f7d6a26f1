import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 network (`10.0.0.0/8`, `::1`, `fd00::/8`), an address without a length being
/// the one host. IPv4 is kept as IPv4-mapped IPv6 (`::ffff:a.b.c.d`), so an IPv4 network also
/// holds the mapped form a dual-stack socket reports.
public struct IPNetwork: Sendable, Equatable, CustomStringConvertible {
    /// The network's address, 16 bytes.
    let bytes: [UInt8]
    /// The prefix length over the 16 bytes (an IPv4 `/24` is 96 + 24).
    let prefix: Int
    public let description: String

    /// Parses `address` or `address/length`; nil when it is neither.
    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let (bytes, isV4) = Self.parse(String(parts[0])) else { return nil }
        let width = isV4 ? 32 : 128
        var length = width
        if parts.count == 2 {
            guard let given = Int(parts[1]), (0...width).contains(given) else {
                return nil
            }
            length = given
        }
        let prefix = isV4 ? 96 + length : length
        self.bytes = Self.masked(bytes, prefix: prefix)
        self.prefix = prefix
        self.description = trimmed
    }

    /// Whether `address` (as a socket reports it, or a header gives it) is in this network.
    public func contains(_ address: String) -> Bool {
        guard let (other, _) = Self.parse(address) else { return false }
        return Self.masked(other, prefix: prefix) == bytes
    }

    /// An address's 16 bytes, and whether it was written as IPv4. A zone (`fe80::1%eth0`) is
    /// ignored.
    static func parse(_ text: String) -> ([UInt8], Bool)? {
        var text = text.trimmingCharacters(in: .whitespaces)
        if let zone = text.firstIndex(of: "%") { text = String(text[..<zone]) }
        guard !text.isEmpty, text.utf8.count <= 45 else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            let value = UInt32(bigEndian: v4.s_addr)
            return (
                [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
                    + [
                        UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff),
                        UInt8(value & 0xff),
                    ],
                true
            )
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        return (bytes, false)
    }

    private static func masked(_ bytes: [UInt8], prefix: Int) -> [UInt8] {
        var result = bytes
        for index in 0..<16 {
            let kept = max(0, min(8, prefix - index * 8))
            result[index] &= kept == 8 ? 0xff : UInt8(truncatingIfNeeded: 0xff << (8 - kept))
        }
        return result
    }
}

/// The proxies whose word on the client's address is taken (`--trusted-proxy`,
/// `UNIONGATE_TRUSTED_PROXIES`). Behind nginx every connection comes from nginx; a request's
/// client is then what nginx says in `X-Forwarded-For` or `X-Real-IP`, but only when the
/// connection comes from a proxy named here: anyone else could write those fields.
public struct TrustedProxies: Sendable, Equatable {
    public let networks: [IPNetwork]

    public init(_ networks: [IPNetwork]) {
        self.networks = networks
    }

    /// Parses a list separated by commas or spaces.
    ///
    /// - Throws: ``ConfigurationError`` naming the entry that is not an address or network.
    public init(parsing text: String) throws {
        var networks: [IPNetwork] = []
        for entry in text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }) {
            guard let network = IPNetwork(String(entry)) else {
                throw ConfigurationError(
                    "trusted proxy '\(entry.prefix(60))' is not an IP address or network (such as 127.0.0.1 or 10.0.0.0/8)"
                )
            }
            networks.append(network)
        }
        self.networks = networks
    }

    public var isEmpty: Bool { networks.isEmpty }

    public func trusts(_ address: String) -> Bool {
        networks.contains { $0.contains(address) }
    }

    /// The request's client: the peer, unless the peer is a trusted proxy. Then the nearest
    /// address in `X-Forwarded-For` (read from the right, each proxy appending the address it
    /// was reached from) that is not itself a trusted proxy, or `X-Real-IP` without that field.
    /// A field that does not parse leaves the last trusted address.
    public func client(peer: String, forwardedFor: [String], realIP: String?) -> String {
        guard trusts(peer) else { return peer }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        var client = peer
        if !hops.isEmpty {
            for hop in hops.reversed() {
                guard IPNetwork.parse(hop) != nil else { return client }
                client = hop
                if !trusts(hop) { return hop }
            }
            return client
        }
        if let realIP, IPNetwork.parse(realIP) != nil {
            return realIP.trimmingCharacters(in: .whitespaces)
        }
        return peer
    }
}
