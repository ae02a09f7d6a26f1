"""The member pages' flows in a real headless Chromium at 375 px, against a real `uniongate serve`
(started by `ConsoleBrowserTests` with the county organisation and a public address), and the
staff's side of them in the console:

- a member asks for 会员中心 in the chat and opens the personal link; 入会 on one page (the unit
  found by search); staff approve; the e-member card; staff verify its code in 会员验证;
- the member applies for 法律援助 on a page with a photo, hostile text in it, and follows it in 我的申请;
- the member applies for 困难帮扶 in three steps (household members added row by row, a photo of
  proof), and three staff accounts (grassroots, town, county) pass it up and approve it with an
  amount; the member reads each level's decision;
- staff publish an activity, the member signs up for two at 375 px, staff see the attendance list;
- staff import a roster (a bad row refused by row, with its reason), confirm it, and a member on it
  binds their WeChat with name and 身份证 number.

Environment: CONSOLE_URL, WECHAT_TOKEN, ROOT_TOKEN, SHOTS_DIR, and the approvers as name:password:
APPROVER (the town 城东镇工会), GRASSROOTS (城东环卫所工会), COUNTY (the county). Exits 0 when every
flow passed.
"""

import json
import os
import re
import subprocess
import urllib.parse
import urllib.request

from PIL import Image
from selenium.webdriver.common.by import By

import wechat
from kit import BASE, ROOT, SHOTS, TOKEN, click, expect, has, run, shoot, sign_in, step, text

APPROVERS = [os.environ[name].split(":", 1) for name in ["GRASSROOTS", "APPROVER", "COUNTY"]]
HOSTILE = '"\u0301 data-x="1 <\u0338img src=x onerror=alert(1)> \'\u0301 onclick=\'x'


def identity(index):
    """A valid 居民身份证 number (GB 11643 check character) for `index`."""
    body = "110105198%d0101%03d" % (index % 10, index)
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(digit) * weight for digit, weight in zip(body, weights))
    return body + "10X98765432"[total % 11]


def api(method, path, body=None):
    request = urllib.request.Request(BASE + path, method=method, headers={
        "Authorization": "Bearer " + ROOT, "Content-Type": "application/json"},
        data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def enter(driver, openid):
    """The member asks for 会员中心 in the chat and opens the personal link it answers."""
    reply = wechat.send(BASE, TOKEN, openid, "会员中心")
    links = re.findall(r'href="([^"]+/m/in/[0-9a-f]{64})"', reply)
    expect(len(links) == 1, f"会员中心 answers a personal link: {reply}")
    driver.get(links[0])
    expect("会员中心" in driver.title, "the personal link opens the member's home")


def fill(driver, element_id, value):
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value)


def no_injection(driver, where):
    expect(not has(driver, "img[src=x]") and not has(driver, "[data-x]") and not has(driver, "[onclick]"),
           f"the hostile text stays text on {where}")


def sign_out(driver):
    driver.get(BASE + "/admin/")
    if has(driver, "#logout"):
        click(driver, driver.find_element(By.ID, "logout"))


def choose(driver, name, value):
    driver.find_element(By.CSS_SELECTOR, f"select[name='{name}'] option[value='{value}']").click()


def hardship(driver, photo):
    step("困难帮扶 in three steps at 375 px: a bad row refused, household members added row by row")
    driver.get(BASE + "/m/aid/" + urllib.parse.quote("困难帮扶"))
    expect("第 1 步" in driver.find_element(By.ID, "aid-step").text, "the first step")
    fill(driver, "f-name", "周小华")
    fill(driver, "f-phone", "13700001111")
    fill(driver, "f-id_number", identity(7))
    choose(driver, "reason", "家属大病")
    fill(driver, "f-detail", "父亲今年住院两次，医药费负担很重。" + HOSTILE)
    shoot(driver, "aid-step-1")
    click(driver, driver.find_element(By.ID, "next"))
    expect("第 2 步" in driver.find_element(By.ID, "aid-step").text, "the household step")
    fill(driver, "f-household-0-name", "周大山")
    choose(driver, "household.0.relation", "父母")
    fill(driver, "f-household-0-age", "71")
    fill(driver, "f-household-0-income", "1200")
    click(driver, driver.find_element(By.ID, "add-household"))
    expect(has(driver, "#f-household-1-name"), "another row to fill")
    fill(driver, "f-household-1-name", "周小雨")
    choose(driver, "household.1.relation", "子女")
    fill(driver, "f-household-1-age", "300")
    fill(driver, "f-income", "4800")
    click(driver, driver.find_element(By.ID, "next"))
    expect("第 2 行" in text(driver), "a bad row is named by its number")
    fill(driver, "f-household-1-age", "12")
    shoot(driver, "aid-household")
    click(driver, driver.find_element(By.ID, "next"))
    expect("第 3 步" in driver.find_element(By.ID, "aid-step").text, "the proof step")
    driver.find_element(By.ID, "f-proof").send_keys(photo)
    shoot(driver, "aid-proof")
    click(driver, driver.find_element(By.ID, "submit"))
    done = driver.find_element(By.ID, "done").text
    match = re.search(r"KB-\d{4}-\d{6}", done)
    expect(match is not None, f"the application is stored with its number: {done}")
    number = match.group(0)

    step("three staff accounts pass it up and approve it: grassroots, town, county")
    for index, (account, password) in enumerate(APPROVERS):
        sign_out(driver)
        sign_in(driver, account, password)
        driver.get(BASE + "/admin/aid")
        expect(number in text(driver), f"{account} finds it in the unit's queue")
        driver.find_element(By.XPATH, f"//a[text()='{number}']").click()
        expect("周大山" in text(driver), f"{account} sees the household (they act on it)")
        no_injection(driver, f"{account}'s page of the application")
        if index == 2:
            choose(driver, "record.category", "一般困难")
            fill(driver, "record.amount", "3000")
            shoot(driver, "aid-county")
        else:
            fill(driver, "aid-note", "情况属实，同意上报。")
        click(driver, driver.find_element(By.ID, "aid-pass"))
        flash = driver.find_element(By.ID, "flash").text
        expect(number in flash, f"{account}'s decision is made: {flash}")
        if index == 0:
            shoot(driver, "aid-grassroots")
    expect("已批准" in driver.find_element(By.ID, "aid-status").text, "approved at the county")
    driver.get(BASE + "/admin/aid/stats")
    expect("3000.00" in text(driver), "the statistics count the amount granted")
    shoot(driver, "aid-stats")
    sign_out(driver)

    step("the member reads each level's decision")
    driver.get(BASE + "/m/applications")
    driver.find_element(By.XPATH, f"//a[contains(., '{number}')]").click()
    timeline = driver.find_element(By.ID, "timeline").text
    for line in ["基层工会审核（城东环卫所工会）：通过", "镇街工会复核（城东镇工会）：通过", "县总工会审批（某某县总工会）：批准"]:
        expect(line in timeline, f"the timeline says {line}")
    expect("3000.00" in text(driver), "and the amount granted")
    no_injection(driver, "the member's application")
    shoot(driver, "member-aid")
    sign_in(driver, "root", ROOT)


def activity(driver):
    step("staff publish an activity; a member signs up at 375 px; staff see the attendance list")
    sign_out(driver)
    sign_in(driver, "root", ROOT)
    driver.get(BASE + "/admin/activities/new")
    fill(driver, "activity-title", "会员日登山 " + HOSTILE)
    fill(driver, "activity-place", "城东公园")
    fill(driver, "activity-capacity", "20")
    fill(driver, "activity-people", "2")
    shoot(driver, "activity-new")
    click(driver, driver.find_element(By.ID, "activity-save"))
    expect("已发布" in driver.find_element(By.ID, "flash").text, "the activity is published")
    activity_id = driver.current_url.rstrip("/").split("/")[-1]
    no_injection(driver, "the console's activity")
    driver.get(BASE + "/m/activities")
    expect("会员日登山" in text(driver), "the member finds it")
    no_injection(driver, "the member's list of activities")
    driver.find_element(By.ID, f"activity-{activity_id}").click()
    choose(driver, "people", "2")
    shoot(driver, "member-activity")
    click(driver, driver.find_element(By.ID, "sign-up"))
    expect("报名成功" in text(driver), "the member signs up with one family member")
    expect("已报名（2 人）" in driver.find_element(By.ID, "my-state").text, "and sees their places")
    shoot(driver, "member-activity-done")
    driver.get(BASE + f"/admin/activities/{activity_id}")
    expect("周小华" in driver.find_element(By.ID, "attendance").text, "staff see the member on the list")
    expect("已签到" not in driver.find_element(By.ID, "attendance").text, "not yet checked in")
    expect("已报名 1 份（2 人）" in driver.find_element(By.ID, "activity-counts").text, "with the places taken")
    shoot(driver, "activity-attendance")


def main(driver):
    photo = os.path.join(SHOTS, "proof.jpg")
    Image.new("RGB", (320, 240), (200, 60, 60)).save(photo, "JPEG")
    step("a member opens 会员中心 from the chat, at 375 px")
    enter(driver, "oMemberPage")
    expect("尚未入会" in text(driver), "the home says they are not a member yet")
    shoot(driver, "member-home")

    step("入会 on one page: a wrong phone is refused and what was typed is kept; the unit by search")
    click(driver, driver.find_element(By.ID, "to-join"))
    fill(driver, "f-name", "周小华")
    fill(driver, "f-phone", "12345")
    fill(driver, "f-unit", "环卫")
    click(driver, driver.find_element(By.ID, "unit-search"))
    driver.find_element(By.CSS_SELECTOR, "input[name=unit_code][value='chengdong-huanwei']").click()
    click(driver, driver.find_element(By.ID, "submit"))
    expect("手机号应为 11 位" in text(driver), "a wrong phone number is refused with its reason")
    expect(driver.find_element(By.ID, "f-name").get_attribute("value") == "周小华", "the name is kept")
    shoot(driver, "member-join")
    fill(driver, "f-phone", "13700001111")
    if not driver.find_element(By.CSS_SELECTOR, "input[name=unit_code][value='chengdong-huanwei']").is_selected():
        driver.find_element(By.CSS_SELECTOR, "input[name=unit_code][value='chengdong-huanwei']").click()
    click(driver, driver.find_element(By.ID, "submit"))
    done = driver.find_element(By.ID, "done").text
    expect("入会申请已提交" in done, f"the application is submitted: {done}")
    number = re.search(r"RH-\d{4}-\d{6}", done).group(0)
    shoot(driver, "member-joined")

    step("staff approve; the member's card shows a code that staff verify")
    rows = api("GET", "/admin/api/members?q=" + urllib.parse.quote(number))
    api("POST", f"/admin/api/members/{rows[0]['id']}/approve", {})
    driver.get(BASE + "/m/card")
    expect(driver.find_element(By.ID, "card-name").text == "周小华", "the card shows the member's name")
    code = driver.find_element(By.ID, "card-code").get_attribute("data-digits")
    expect(re.fullmatch(r"\d{8}", code or "") is not None, f"the card shows an 8-digit code: {code}")
    shoot(driver, "member-card")
    qr = os.path.join(SHOTS, "card-qr.png")
    driver.find_element(By.ID, "card-qr").screenshot(qr)
    scanned = subprocess.run(["zbarimg", "--quiet", "--raw", qr], capture_output=True, text=True).stdout.strip()
    expect(scanned == f"{BASE}/admin/verify?code={code}", f"the card's QR code scans as the verify link: {scanned!r}")
    sign_in(driver, "root", ROOT)
    driver.get(scanned)
    expect(driver.find_element(By.ID, "holder-name").text == "周小华", "staff who scan it see whose card it is")
    driver.get(BASE + "/admin/verify")
    fill(driver, "code", code[:4] + " " + code[4:])
    click(driver, driver.find_element(By.ID, "verify"))
    expect(driver.find_element(By.ID, "holder-name").text == "周小华", "staff who type it see whose card it is")
    expect("会员（有效）" in driver.find_element(By.ID, "holder-status").text, "and that it is valid")
    shoot(driver, "verify")

    step("法律援助 as a page, with a photo and hostile text, followed in 我的申请")
    driver.get(BASE + "/m/forms")
    shoot(driver, "member-forms")
    driver.get(BASE + "/m/aid/" + urllib.parse.quote("法律援助"))
    fill(driver, "f-name", "周小华")
    fill(driver, "f-phone", "13700001111")
    driver.find_element(By.CSS_SELECTOR, "select[name=kind] option[value='工伤认定']").click()
    fill(driver, "f-detail", "车间受伤，单位不给认定工伤 " + HOSTILE)
    driver.find_element(By.ID, "f-photos").send_keys(photo)
    shoot(driver, "member-form")
    click(driver, driver.find_element(By.ID, "submit"))
    expect("FL-" in driver.find_element(By.ID, "done").text, "the form is stored with its number")
    click(driver, driver.find_element(By.ID, "to-applications"))
    expect(number in text(driver), "我的申请 lists the join application")
    shoot(driver, "member-applications")
    driver.find_element(By.CSS_SELECTOR, "a[href^='/m/applications/aid/']").click()
    expect(has(driver, "#record-photos img"), "the member sees their photo")
    loaded = driver.execute_script(
        "const i = document.querySelector('#record-photos img'); return i.complete && i.naturalWidth")
    expect(loaded == 320, f"the photo loads ({loaded} px wide)")
    expect("车间受伤" in text(driver), "the answers are shown")
    no_injection(driver, "the member's application")
    shoot(driver, "member-application")
    driver.get(BASE + "/admin/aid?status=all")
    driver.find_element(By.CSS_SELECTOR, "table#aid a[id^='aid-']").click()
    expect(has(driver, "img.thumb"), "staff see the photo with the application")
    no_injection(driver, "the console's application")

    hardship(driver, photo)
    activity(driver)

    step("staff import a roster: previewed with its bad row, then confirmed")
    roster = os.path.join(SHOTS, "roster.csv")
    with open(roster, "w", encoding="utf-8-sig") as handle:
        handle.write("姓名,身份证号,手机号,会员编号,入会日期,单位\n")
        handle.write(f"吴大伟,{identity(1)},13600001111,HY-7001,2015-06-01,城东环卫所工会\n")
        handle.write(f"郑小兰,{identity(2)},,HY-7002,2018-09-15,城东水务公司工会\n")
        handle.write(f"王错号,{identity(3)[:-1]}{'0' if identity(3)[-1] != '0' else '1'},,,,\n")
    driver.get(BASE + "/admin/roster")
    driver.find_element(By.ID, "roster-file").send_keys(roster)
    click(driver, driver.find_element(By.ID, "roster-preview"))
    expect("新增 2 人" in driver.find_element(By.ID, "count-added").text, "the preview adds two")
    expect("第 4 行" in driver.find_element(By.ID, "refused").text, "the bad row is named by its row")
    shoot(driver, "roster-preview")
    click(driver, driver.find_element(By.ID, "roster-apply"))
    expect("新增 2 人" in driver.find_element(By.ID, "flash").text, "the roster is imported")
    expect(identity(1) not in text(driver), "identity numbers are masked in the roster")
    shoot(driver, "roster")

    step("a member on the roster binds with name and 身份证 number and has a card at once")
    driver.delete_all_cookies()
    enter(driver, "oRosterMember")
    click(driver, driver.find_element(By.ID, "to-bind"))
    fill(driver, "f-name", "吴大伟")
    fill(driver, "f-identity", identity(1))
    click(driver, driver.find_element(By.ID, "identity-submit"))
    expect("绑定成功" in driver.find_element(By.ID, "outcome").text, "the member is bound")
    shoot(driver, "member-identity")
    driver.get(BASE + "/m/card")
    expect("HY-7001" in driver.find_element(By.ID, "card-number").text, "their card has the roster's number")


if __name__ == "__main__":
    run("member", main)
