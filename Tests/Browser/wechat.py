"""A member on WeChat, for the console's browser test: signed plain-mode messages to the
gateway's webhook, as WeChat's servers send them (the signature is SHA-1 over the sorted token,
timestamp and nonce)."""

import hashlib
import re
import time
import urllib.request
from xml.sax.saxutils import escape

_msg_id = [int(time.time()) * 1000]


def send(base_url, token, openid, text):
    """Sends `text` from `openid`; returns the visible reply text ('' when none)."""
    _msg_id[0] += 1
    timestamp = str(int(time.time()))
    nonce = str(_msg_id[0])
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    body = (
        "<xml><ToUserName><![CDATA[gh_union]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{escape(text)}</Content><MsgId>{_msg_id[0]}</MsgId></xml>"
    ).encode()
    url = f"{base_url}/wechat?signature={signature}&timestamp={timestamp}&nonce={nonce}&openid={openid}"
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "text/xml"})
    with urllib.request.urlopen(request, timeout=10) as response:
        reply = response.read().decode()
    if reply in ("", "success"):
        return ""
    texts = re.findall(r"<(?:Content|Title|Description)><!\[CDATA\[(.*?)\]\]>", reply, re.S)
    return "\n".join(texts)
