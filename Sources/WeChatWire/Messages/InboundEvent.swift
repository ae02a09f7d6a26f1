/// An event WeChat reports (`MsgType` `event`).
public enum InboundEvent: Sendable, Hashable {
    /// The member followed the account; `scene` is set when they scanned a parametric QR code
    /// (without its `qrscene_` prefix).
    case subscribe(scene: String?, ticket: String?)
    /// The member unfollowed the account.
    case unsubscribe
    /// A follower scanned a parametric QR code.
    case scan(scene: String, ticket: String?)
    /// The member's location, reported while a chat is open.
    case location(latitude: Double, longitude: Double, precision: Double)
    /// The member tapped a `click` menu button.
    case click(key: String)
    /// The member tapped a `view` menu button.
    case view(url: String, menuId: String?)
    /// The member scanned a code with a `scancode_push` (`waitForMessage` false) or
    /// `scancode_waitmsg` (true) menu button.
    case scanCode(key: String, scanType: String, scanResult: String, waitForMessage: Bool)
    /// The member sent pictures with a `pic_*` menu button.
    case pictures(key: String, source: PictureSource, count: Int, md5Sums: [String])
    /// The member picked a location with a `location_select` menu button.
    case locationSelect(key: String, location: SelectedLocation)
    /// The member opened a mini program from the menu.
    case viewMiniProgram(pagePath: String, menuId: String?)
    /// A template message was delivered or failed.
    case templateSendJobFinished(msgId: UInt64, status: String)
    /// A mass message job finished.
    case massSendJobFinished(msgId: UInt64, status: String, counts: MassSendCounts)
    /// The member chose which subscription notifications (订阅通知) to accept: in WeChat's pop-up
    /// (`subscribe_msg_popup_event`, `changed` false) or later in the account's settings
    /// (`subscribe_msg_change_event`, `changed` true).
    case subscriptionChoices(changed: Bool, choices: [SubscriptionChoice])
    /// How subscription notifications went (`subscribe_msg_sent_event`).
    case subscriptionSent(results: [SubscriptionSendResult])
    /// An event this library does not know, kept with its name as sent and its fields.
    case unknown(name: String, fields: [XMLElement])

    /// The `Event` value that stands for this event on the wire.
    public var name: String {
        switch self {
        case .subscribe: "subscribe"
        case .unsubscribe: "unsubscribe"
        case .scan: "SCAN"
        case .location: "LOCATION"
        case .click: "CLICK"
        case .view: "VIEW"
        case .scanCode(_, _, _, let waitForMessage): waitForMessage ? "scancode_waitmsg" : "scancode_push"
        case .pictures(_, let source, _, _): source.rawValue
        case .locationSelect: "location_select"
        case .viewMiniProgram: "view_miniprogram"
        case .templateSendJobFinished: "TEMPLATESENDJOBFINISH"
        case .massSendJobFinished: "MASSSENDJOBFINISH"
        case .subscriptionChoices(let changed, _): changed ? "subscribe_msg_change_event" : "subscribe_msg_popup_event"
        case .subscriptionSent: "subscribe_msg_sent_event"
        case .unknown(let name, _): name
        }
    }

    /// The event's key as WeChat sends it in `EventKey`, where it has one: the menu key, the URL,
    /// or the QR scene (with its `qrscene_` prefix for subscribe).
    public var eventKey: String? {
        switch self {
        case .subscribe(let scene, _): scene.map { InboundEvent.qrScenePrefix + $0 }
        case .scan(let scene, _): scene
        case .click(let key): key
        case .view(let url, _): url
        case .scanCode(let key, _, _, _), .pictures(let key, _, _, _), .locationSelect(let key, _): key
        case .viewMiniProgram(let pagePath, _): pagePath
        case .unsubscribe, .location, .templateSendJobFinished, .massSendJobFinished, .subscriptionChoices,
            .subscriptionSent:
            nil
        case .unknown(_, let fields): fields.first { $0.name == "EventKey" }?.text
        }
    }

    /// The prefix of a subscribe event's key when the member followed through a parametric QR code.
    public static let qrScenePrefix = "qrscene_"
}

/// One template in a member's subscription choice.
public struct SubscriptionChoice: Sendable, Hashable {
    /// The template's id (`TemplateId`).
    public var templateId: String
    /// `accept` or `reject` (`SubscribeStatusString`).
    public var status: String
    /// Where the pop-up was shown (`PopupScene`; only in the pop-up event).
    public var popupScene: String?

    /// Whether the member accepted the template.
    public var accepted: Bool { ASCII.lowercased(status) == "accept" }

    /// Creates a choice.
    public init(templateId: String, status: String, popupScene: String? = nil) {
        self.templateId = templateId
        self.status = status
        self.popupScene = popupScene
    }
}

/// One subscription notification's delivery result.
public struct SubscriptionSendResult: Sendable, Hashable {
    /// The template's id (`TemplateId`).
    public var templateId: String
    /// The message id (`MsgID`).
    public var msgId: String
    /// 0 when delivered (`ErrorCode`).
    public var errorCode: Int
    /// WeChat's word for the result (`ErrorStatus`), such as `success`.
    public var errorStatus: String

    /// Creates a result.
    public init(templateId: String, msgId: String, errorCode: Int, errorStatus: String) {
        self.templateId = templateId
        self.msgId = msgId
        self.errorCode = errorCode
        self.errorStatus = errorStatus
    }
}

/// Where the pictures of a `pic_*` menu event came from.
public enum PictureSource: String, Sendable, Hashable, CaseIterable {
    /// The system camera (`pic_sysphoto`).
    case systemCamera = "pic_sysphoto"
    /// The camera or the photo album (`pic_photo_or_album`).
    case cameraOrAlbum = "pic_photo_or_album"
    /// WeChat's own album (`pic_weixin`).
    case weChatAlbum = "pic_weixin"
}

/// A location picked with a `location_select` menu button.
public struct SelectedLocation: Sendable, Hashable {
    /// Latitude (`Location_X`).
    public var latitude: Double
    /// Longitude (`Location_Y`).
    public var longitude: Double
    /// The map's zoom level.
    public var scale: Int
    /// The place's description.
    public var label: String
    /// The point of interest's name, when there is one.
    public var poiName: String?

    /// Creates a selected location.
    public init(latitude: Double, longitude: Double, scale: Int, label: String, poiName: String? = nil) {
        self.latitude = latitude
        self.longitude = longitude
        self.scale = scale
        self.label = label
        self.poiName = poiName
    }
}

/// The counts a finished mass message job reports.
public struct MassSendCounts: Sendable, Hashable {
    /// The followers the job was meant for.
    public var total: Int
    /// The followers left after filtering.
    public var filtered: Int
    /// The messages delivered.
    public var sent: Int
    /// The messages that failed.
    public var failed: Int

    /// Creates counts.
    public init(total: Int, filtered: Int, sent: Int, failed: Int) {
        self.total = total
        self.filtered = filtered
        self.sent = sent
        self.failed = failed
    }
}
