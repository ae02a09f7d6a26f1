import Foundation

/// A menu button as WeChat's menu API takes it. Built by the rules layer's menu; kept here as
/// plain values so this target needs nothing but the wire protocol.
public struct APIMenuButton: Sendable, Hashable {
    /// The label.
    public var name: String
    /// `click`, `view`, `miniprogram`, or nil for a button with sub-buttons.
    public var type: String?
    /// The click key.
    public var key: String?
    /// The address of a view (or a mini program's fallback).
    public var url: String?
    /// A mini program's app id.
    public var appId: String?
    /// A mini program's page.
    public var pagePath: String?
    /// The sub-buttons.
    public var subButtons: [APIMenuButton]

    /// Creates a button.
    public init(
        name: String, type: String? = nil, key: String? = nil, url: String? = nil, appId: String? = nil,
        pagePath: String? = nil,
        subButtons: [APIMenuButton] = []
    ) {
        self.name = name
        self.type = type
        self.key = key
        self.url = url
        self.appId = appId
        self.pagePath = pagePath
        self.subButtons = subButtons
    }

    var object: [String: Any] {
        var object: [String: Any] = ["name": name]
        if !subButtons.isEmpty {
            object["sub_button"] = subButtons.map(\.object)
            return object
        }
        object["type"] = type
        object["key"] = key
        object["url"] = url
        object["appid"] = appId
        object["pagepath"] = pagePath
        return object
    }

    /// Reads a button from WeChat's `menu/get` answer.
    public init?(object: [String: Any]) {
        guard let name = object["name"] as? String else { return nil }
        self.name = name
        self.type = object["type"] as? String
        self.key = object["key"] as? String
        self.url = object["url"] as? String
        self.appId = object["appid"] as? String
        self.pagePath = object["pagepath"] as? String
        let subs: [[String: Any]]
        if let list = object["sub_button"] as? [[String: Any]] {
            subs = list
        } else if let wrapped = object["sub_button"] as? [String: Any], let list = wrapped["list"] as? [[String: Any]] {
            subs = list
        } else {
            subs = []
        }
        self.subButtons = subs.compactMap(APIMenuButton.init(object:))
        if !subButtons.isEmpty { type = nil }
    }

    /// One line describing the button, for `menu show`.
    public var summary: String {
        switch type {
        case "click": "\(name) → click \(key ?? "")"
        case "view": "\(name) → view \(url ?? "")"
        case "miniprogram": "\(name) → miniprogram \(appId ?? "") \(pagePath ?? "")"
        case let other?: "\(name) → \(other)"
        case nil: "\(name) ▸"
        }
    }
}

/// The body of `menu/create`.
public enum MenuJSON {
    /// `{"button": […]}` for `buttons`.
    public static func encode(_ buttons: [APIMenuButton]) throws -> Data {
        try JSONSerialization.data(
            withJSONObject: ["button": buttons.map(\.object)], options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// The buttons in WeChat's `menu/get` answer (`{"menu": {"button": […]}}`).
    public static func decode(_ answer: [String: Any]) -> [APIMenuButton] {
        let menu = answer["menu"] as? [String: Any] ?? answer
        return (menu["button"] as? [[String: Any]] ?? []).compactMap(APIMenuButton.init(object:))
    }
}
