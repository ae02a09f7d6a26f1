"""The web console's flows in a real headless Chromium (Debian's `chromium` and
`chromium-driver`, driven by Debian's `python3-selenium`), against a real `uniongate serve`.

Started by `ConsoleBrowserTests` (swift test), which starts the gateway with the county
organisation and these accounts, and passes everything in the environment:
  CONSOLE_URL, WECHAT_TOKEN, ROOT_TOKEN, REPLIES_DIR, SHOTS_DIR,
  APPROVER (name:password, unit chengdong), VIEWER (name:password, unit chengdong).
Exits 0 when every flow passed; prints each step, and what failed.
"""

import json
import os
import urllib.parse
import urllib.request

from selenium.webdriver.common.by import By

import wechat
from kit import BASE, PHONE, ROOT, TOKEN, click, expect, has, post, run, shoot, sign_in, step, text

REPLIES = os.environ["REPLIES_DIR"]
APPROVER = os.environ["APPROVER"].split(":", 1)
VIEWER = os.environ["VIEWER"].split(":", 1)

def application_status(number):
    request = urllib.request.Request(BASE + "/admin/api/members?q=" + urllib.parse.quote(number),
                                     headers={"Authorization": "Bearer " + ROOT})
    with urllib.request.urlopen(request, timeout=10) as response:
        rows = json.loads(response.read())
    return rows[0]["status"] if rows else None


def join(openid, name, phone):
    reply = ""
    for message in ["入会", name, phone, "城东环卫所工会", "无", "确认"]:
        reply = wechat.send(BASE, TOKEN, openid, message)
    expect("入会申请已提交" in reply, f"{name}'s application is submitted over WeChat")
    return reply.split("申请编号：")[1].split("。")[0]


def main(driver):
    step("members write over WeChat: two applications and three questions no rule answers")
    first = join("oMemberWang", "王小明", "13912345678")
    second = join("oMemberLi", "李小红", "13987654321")
    question = "食堂几点开门"
    for openid in ["oAskOne", "oAskTwo", "oAskThree"]:
        reply = wechat.send(BASE, TOKEN, openid, question)
        expect("留言已转给工会工作人员" in reply, "a question no rule answers opens a case")
    reply = wechat.send(BASE, TOKEN, "oMemberWang", "建议 夜班食堂增加热菜窗口")
    expect("JY-" in reply, f"a suggestion is stored with a receipt number: {reply}")
    suggestion = "JY-" + reply.split("JY-")[1][:11]
    default_reply = "留言已转给工会工作人员"  # what the default reply says, with its case number
    # Hostile text from members: a quote or < followed by a combining mark (one Swift Character
    # with it), which an escaper comparing Characters let through into staff pages.
    hostile = '"\u0301 data-x="1 <\u0338b data-y=1> \'\u0301 onclick=\'x'
    reply = wechat.send(BASE, TOKEN, "oHostile", "建议 食堂窗口太少 " + hostile)
    expect("JY-" in reply, f"a suggestion with hostile text is stored: {reply}")
    reply = wechat.send(BASE, TOKEN, "oHostile", "请问 " + hostile)
    expect("留言已转给工会工作人员" in reply, f"a question with hostile text opens a case: {reply}")

    driver.set_window_size(*PHONE)
    step("the console asks for a sign-in; a wrong password is refused")
    driver.get(BASE + "/admin/")
    expect("/admin/login" in driver.current_url, "an unsigned visitor is sent to the sign-in page")
    shoot(driver, "login")
    sign_in(driver, "root", "not-the-token")
    expect("账号或密码不正确" in text(driver), "a wrong password is refused with a message")
    expect(not has(driver, "#logout"), "a refused sign-in has no session")
    sign_in(driver, "root", ROOT)
    expect(has(driver, "#logout") and "概览" in text(driver), "the root admin signs in with the admin token")
    expect(question in text(driver), "the overview lists the question nobody answered")
    shoot(driver, "overview")

    step("a search with a quote and a combining mark injects no attribute")
    driver.get(BASE + "/admin/members?status=all")
    box = driver.find_element(By.CSS_SELECTOR, "input[name=q]")
    hostile = '"\u0301 data-x="1'
    box.send_keys(hostile)
    click(driver, driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]"))
    expect(not has(driver, "[data-x]"), "the search box's reflected text adds no data-x attribute")
    expect(driver.find_element(By.CSS_SELECTOR, "input[name=q]").get_attribute("value") == hostile,
           "the search box shows the text as typed")
    driver.get(BASE + "/admin/cases?status=all&q=" + urllib.parse.quote(hostile))
    expect(not has(driver, "[data-x]"), "a reflected search on the cases page adds no attribute")
    driver.get(BASE + "/admin/login?next=" + urllib.parse.quote('/admin/"\u0301 data-x="1'))
    expect(not has(driver, "[data-x]"), "a reflected next on the sign-in page adds no attribute")

    step("approve an application, then see its notice queued")
    driver.get(BASE + "/admin/members")
    expect(first in text(driver) and second in text(driver), "pending applications are listed")
    shoot(driver, "members")
    application_id = driver.find_element(By.XPATH, f"//tr[td[contains(., '{first}')]]").get_attribute("id")
    click(driver, driver.find_element(By.ID, application_id.replace("member-", "approve-")))
    flash = driver.find_element(By.ID, "flash").text
    expect("已通过" in flash and "已排队通知会员" in flash and "王小明" in flash,
           f"the approval shows the notice it queued: {flash}")
    expect(application_status(first) == "approved", "the application is approved in the store")
    driver.get(BASE + "/admin/outbox")
    expect("oMemberWang" in text(driver), "the notice is in the outbox")
    shoot(driver, "outbox")

    step("answer a case")
    driver.get(BASE + "/admin/cases")
    shoot(driver, "cases")
    click(driver, driver.find_element(By.CSS_SELECTOR, "#cases a"))
    shoot(driver, "case")
    answer = "食堂早上六点开门，晚上八点关门。"
    driver.find_element(By.ID, "reply-text").send_keys(answer)
    click(driver, driver.find_element(By.ID, "send-reply"))
    expect("答复已发给会员" in driver.find_element(By.ID, "flash").text, "the reply is sent")
    expect(answer in driver.find_element(By.ID, "thread").text, "the reply is in the thread")

    step("adopt a suggestion with the union's reply")
    driver.get(BASE + "/admin/suggestions")
    record = driver.find_element(By.XPATH, f"//li[p[contains(., '{suggestion}')]]")
    record.find_element(By.CSS_SELECTOR, "select[name=status] option[value=adopted]").click()
    record.find_element(By.CSS_SELECTOR, "textarea[name=reply]").send_keys("已采纳，下月起夜班食堂增加热菜窗口。")
    click(driver, record.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    expect("已改为「已采纳」" in driver.find_element(By.ID, "flash").text, "the suggestion is adopted")
    expect("下月起夜班食堂增加热菜窗口" in text(driver), "the reply is shown with it")
    shoot(driver, "suggestions")
    mine = wechat.send(BASE, TOKEN, "oMemberWang", "我的建议")
    expect("已采纳" in mine, f"the member sees the adoption over WeChat: {mine}")
    for name in ["forms", "menu", "qr"]:
        driver.get(BASE + f"/admin/{name}")
        shoot(driver, name)
    expect("手机上的样子" in text(driver) or "二维码" in text(driver), "the menu and QR pages render")

    step("edit a rule, preview it, save it; the next signed WeChat message gets the new reply")
    driver.get(BASE + "/admin/rules")
    shoot(driver, "rules")
    driver.get(BASE + "/admin/rules/file?name=help.yaml")
    original = open(os.path.join(REPLIES, "help.yaml"), encoding="utf-8").read()
    new_rule = ("\n  - name: 食堂时间\n    keywords: [食堂几点开门, 食堂时间]\n"
                "    reply: 职工食堂早上六点开门，晚上八点关门。\n")
    edited = original.replace("\nexamples:", new_rule + "\nexamples:", 1)
    expect(edited != original, "help.yaml has an examples section to insert before")
    area = driver.find_element(By.ID, "rule-text")
    driver.execute_script("arguments[0].value = arguments[1];", area, edited)
    driver.find_element(By.ID, "try").send_keys(question)
    click(driver, driver.find_element(By.ID, "preview"))
    expect("职工食堂早上六点开门" in driver.find_element(By.ID, "preview-answer").text,
           "the preview answers with the edited rules")
    expect(open(os.path.join(REPLIES, "help.yaml"), encoding="utf-8").read() == original,
           "a preview saves nothing")
    expect(default_reply in wechat.send(BASE, TOKEN, "oAskFive", question),
           "before saving, members still get the old reply")
    shoot(driver, "rule-editor")
    click(driver, driver.find_element(By.ID, "save"))
    expect("已保存" in driver.find_element(By.ID, "flash").text, "the rule file is saved")
    expect(open(os.path.join(REPLIES, "help.yaml"), encoding="utf-8").read() == edited,
           "the file on disk is what was saved")
    reply = wechat.send(BASE, TOKEN, "oAskSix", question)
    expect("职工食堂早上六点开门" in reply, f"the next WeChat message gets the new reply: {reply}")

    step("save a broken rule: the error shows at its line and nothing changes")
    broken_line = edited[:edited.index("    reply: 职工食堂")].count("\n") + 1
    broken = edited.replace("    reply: 职工食堂", "    replly: 职工食堂", 1)
    area = driver.find_element(By.ID, "rule-text")
    driver.execute_script("arguments[0].value = arguments[1];", area, broken)
    click(driver, driver.find_element(By.ID, "save"))
    problems = driver.find_element(By.ID, "problems").text
    expect(f"第 {broken_line} 行" in problems or f"第 {broken_line - 1} 行" in problems,
           f"the error names the line ({broken_line}): {problems}")
    expect(has(driver, "ol.lines li.bad"), "the broken line is marked in the listing")
    shoot(driver, "rule-error")
    expect(open(os.path.join(REPLIES, "help.yaml"), encoding="utf-8").read() == edited,
           "the broken text is not saved")
    expect("职工食堂早上六点开门" in wechat.send(BASE, TOKEN, "oAskSeven", question),
           "members still get the saved reply")

    step("restore the file as it was before the console edited it")
    driver.get(BASE + "/admin/rules/file?name=help.yaml")
    restore_buttons = driver.find_elements(By.CSS_SELECTOR, "#history button[id^=restore-]")
    expect(len(restore_buttons) >= 2, "the history keeps the file before the edit and the edit")
    click(driver, restore_buttons[-1])
    expect("已恢复" in driver.find_element(By.ID, "flash").text, "an earlier version is restored")
    expect(open(os.path.join(REPLIES, "help.yaml"), encoding="utf-8").read() == original,
           "the restored file is the original")
    expect(default_reply in wechat.send(BASE, TOKEN, "oAskEight", question),
           "members get the old reply again")

    step("change a rule in the form: a keyword added; the file keeps its comments")
    driver.get(BASE + "/admin/rules")
    click(driver, driver.find_element(By.CSS_SELECTOR, "a.edit-rule[href*='help.yaml']"))
    name = driver.find_element(By.ID, "rule-name").get_attribute("value")
    keywords = driver.find_element(By.ID, "keywords")
    keywords.send_keys("\n工会能做什么")
    driver.find_element(By.ID, "try").send_keys("工会能做什么")
    click(driver, driver.find_element(By.ID, "preview"))
    expect(driver.find_element(By.ID, "preview-answer").text.strip() != "",
           "the form's preview answers with the changed rule")
    shoot(driver, "rule-form")
    before_form = open(os.path.join(REPLIES, "help.yaml"), encoding="utf-8").read()
    click(driver, driver.find_element(By.ID, "save"))
    expect("已保存" in driver.find_element(By.ID, "flash").text, f"the rule 「{name}」 is saved from the form")
    after_form = open(os.path.join(REPLIES, "help.yaml"), encoding="utf-8").read()
    expect("工会能做什么" in after_form, "the new keyword is in the file")
    comments = [line for line in before_form.splitlines() if line.strip().startswith("#")]
    expect(all(line in after_form.splitlines() for line in comments), "every comment of the file stays")
    answered = wechat.send(BASE, TOKEN, "oAskNine", "工会能做什么")
    expect("入会" in answered, f"the next WeChat message with the new keyword gets the rule's reply: {answered}")

    step("a forged form post without the CSRF token is refused")
    driver.get(BASE + "/admin/members")
    row = driver.find_element(By.XPATH, f"//tr[td[contains(., '{second}')]]").get_attribute("id")
    second_id = row.replace("member-", "")
    expect(post(driver, f"/admin/members/{second_id}/approve", {}) == 403, "no token: 403")
    expect(post(driver, f"/admin/members/{second_id}/approve", {"_csrf": "0" * 64}) == 403,
           "a wrong token: 403")
    expect(application_status(second) == "pending", "the forged approval changed nothing")

    for name in ["staff", "audit"]:
        driver.get(BASE + f"/admin/{name}")
        shoot(driver, name)
    expect("console.login_failed" in text(driver), "the failed sign-in is in the audit log")

    step("an independent probe: every console page, with members' hostile text in it, has no injected attribute")
    pages = ["/admin/", "/admin/members?status=all", "/admin/suggestions", "/admin/forms", "/admin/cases?status=all",
             "/admin/rules", "/admin/menu", "/admin/qr", "/admin/outbox", "/admin/staff", "/admin/audit",
             "/admin/password"]
    driver.get(BASE + "/admin/cases?status=all")
    pages += [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "#cases a")]
    driver.get(BASE + "/admin/rules")
    pages += [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "ul.files a")][:3]
    pages += [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "a.edit-rule")][:2]
    probed = 0
    shown = 0
    for page in pages:
        driver.get(page if page.startswith("http") else BASE + page)
        injected = driver.execute_script(
            "return document.querySelectorAll('[data-x],[data-y],[onclick],b,svg[onload]').length")
        expect(injected == 0, f"{page}: {injected} injected elements or attributes")
        if "data-x" in text(driver):
            shown += 1
        probed += 1
    expect(probed >= 14, f"the probe visited the console's pages ({probed})")
    expect(shown >= 2, f"the hostile text is shown as text where members' words are ({shown} pages)")

    step("sign out")
    click(driver, driver.find_element(By.ID, "logout"))
    expect("/admin/login" in driver.current_url, "signing out goes to the sign-in page")
    driver.get(BASE + "/admin/members")
    expect("/admin/login" in driver.current_url, "after signing out the console asks again")

    step("a viewer sees no approve button, and a direct POST from a viewer is refused")
    sign_in(driver, *VIEWER)
    driver.get(BASE + "/admin/members")
    expect(second in text(driver), "the viewer sees the pending application of their town")
    expect(not has(driver, "button.approve"), "the viewer sees no approve button")
    token = driver.find_element(By.CSS_SELECTOR, "form[action='/admin/logout'] input[name=_csrf]").get_attribute(
        "value")
    expect(post(driver, f"/admin/members/{second_id}/approve", {"_csrf": token}) == 403,
           "the viewer's direct POST, with a valid token, is refused")
    expect(application_status(second) == "pending", "the viewer's approval changed nothing")
    expect(not has(driver, "a[href='/admin/staff']"), "the viewer has no 人员 page")
    click(driver, driver.find_element(By.ID, "logout"))

    step("an approver of the town approves the second application")
    sign_in(driver, *APPROVER)
    driver.get(BASE + "/admin/members")
    click(driver, driver.find_element(By.ID, f"approve-{second_id}"))
    expect("已通过" in driver.find_element(By.ID, "flash").text, "the approver approves")
    expect(application_status(second) == "approved", "the approval is stored")
    click(driver, driver.find_element(By.ID, "logout"))


if __name__ == "__main__":
    run("console", main)
