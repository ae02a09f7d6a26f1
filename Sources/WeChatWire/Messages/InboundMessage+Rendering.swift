extension InboundMessage {
    /// The message as WeChat would send it in plain mode.
    ///
    /// Used by tests, the terminal chat and benchmarks to play WeChat's part; reading the
    /// result back with ``parse(_:reader:)-(String,_)`` gives an equal message.
    public func xml() -> String {
        var writer = XMLWriter()
        writer.open("xml")
        writer.text("ToUserName", header.account)
        writer.text("FromUserName", header.sender)
        writer.number("CreateTime", header.createTime)
        writer.text("MsgType", msgType)
        switch kind {
        case .text(let text):
            writer.text("Content", text.content)
            if let id = text.menuOptionId { writer.text("bizmsgmenuid", id) }
        case .image(let image):
            writer.text("PicUrl", image.picURL)
            writer.text("MediaId", image.mediaId)
        case .voice(let voice):
            writer.text("MediaId", voice.mediaId)
            writer.text("Format", voice.format)
            if let id = voice.mediaId16K { writer.text("MediaId16K", id) }
            if let recognition = voice.recognition { writer.text("Recognition", recognition) }
        case .video(let video), .shortVideo(let video):
            writer.text("MediaId", video.mediaId)
            writer.text("ThumbMediaId", video.thumbMediaId)
        case .location(let location):
            writer.number("Location_X", location.latitude)
            writer.number("Location_Y", location.longitude)
            writer.number("Scale", location.scale)
            writer.text("Label", location.label)
        case .link(let link):
            writer.text("Title", link.title)
            writer.text("Description", link.description)
            writer.text("Url", link.url)
        case .event(let event):
            writer.text("Event", event.name)
            event.writeFields(into: &writer)
        case .unknown(_, let fields):
            for field in fields { writer.element(field) }
        }
        if let msgId = header.msgId { writer.number("MsgId", msgId) }
        if let msgDataId = header.msgDataId { writer.text("MsgDataId", msgDataId) }
        if let idx = header.idx { writer.text("Idx", idx) }
        writer.close("xml")
        return writer.string
    }
}

extension InboundEvent {
    func writeFields(into writer: inout XMLWriter) {
        switch self {
        case .subscribe(_, let ticket), .scan(_, let ticket):
            if let key = eventKey { writer.text("EventKey", key) }
            if let ticket { writer.text("Ticket", ticket) }
        case .unsubscribe:
            break
        case .location(let latitude, let longitude, let precision):
            writer.number("Latitude", latitude)
            writer.number("Longitude", longitude)
            writer.number("Precision", precision)
        case .click(let key):
            writer.text("EventKey", key)
        case .view(let url, let menuId), .viewMiniProgram(let url, let menuId):
            writer.text("EventKey", url)
            if let menuId { writer.text("MenuId", menuId) }
        case .scanCode(let key, let scanType, let scanResult, _):
            writer.text("EventKey", key)
            writer.open("ScanCodeInfo")
            writer.text("ScanType", scanType)
            writer.text("ScanResult", scanResult)
            writer.close("ScanCodeInfo")
        case .pictures(let key, _, let count, let md5Sums):
            writer.text("EventKey", key)
            writer.open("SendPicsInfo")
            writer.number("Count", count)
            writer.open("PicList")
            for sum in md5Sums {
                writer.open("item")
                writer.text("PicMd5Sum", sum)
                writer.close("item")
            }
            writer.close("PicList")
            writer.close("SendPicsInfo")
        case .locationSelect(let key, let location):
            writer.text("EventKey", key)
            writer.open("SendLocationInfo")
            writer.number("Location_X", location.latitude)
            writer.number("Location_Y", location.longitude)
            writer.number("Scale", location.scale)
            writer.text("Label", location.label)
            if let poiName = location.poiName { writer.text("Poiname", poiName) }
            writer.close("SendLocationInfo")
        case .templateSendJobFinished(let msgId, let status):
            writer.number("MsgID", msgId)
            writer.text("Status", status)
        case .massSendJobFinished(let msgId, let status, let counts):
            writer.number("MsgID", msgId)
            writer.text("Status", status)
            writer.number("TotalCount", counts.total)
            writer.number("FilterCount", counts.filtered)
            writer.number("SentCount", counts.sent)
            writer.number("ErrorCount", counts.failed)
        case .subscriptionChoices(let changed, let choices):
            let container = changed ? "SubscribeMsgChangeEvent" : "SubscribeMsgPopupEvent"
            writer.open(container)
            for choice in choices {
                writer.open("List")
                writer.text("TemplateId", choice.templateId)
                writer.text("SubscribeStatusString", choice.status)
                if let scene = choice.popupScene { writer.text("PopupScene", scene) }
                writer.close("List")
            }
            writer.close(container)
        case .subscriptionSent(let results):
            writer.open("SubscribeMsgSentEvent")
            for result in results {
                writer.open("List")
                writer.text("TemplateId", result.templateId)
                writer.text("MsgID", result.msgId)
                writer.number("ErrorCode", result.errorCode)
                writer.text("ErrorStatus", result.errorStatus)
                writer.close("List")
            }
            writer.close("SubscribeMsgSentEvent")
        case .unknown(_, let fields):
            for field in fields { writer.element(field) }
        }
    }
}
