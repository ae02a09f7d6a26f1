"""What the browser flows share: headless Chromium (Debian's `chromium` and `chromium-driver`,
driven by Debian's `python3-selenium`), screenshots at phone and desktop widths checked not blank,
clicks that wait for the next page, and the gateway's address and tokens from the environment
(CONSOLE_URL, WECHAT_TOKEN, ROOT_TOKEN, SHOTS_DIR)."""

import os
import sys
import urllib.error
import urllib.parse
import urllib.request

from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BASE = os.environ["CONSOLE_URL"]
TOKEN = os.environ["WECHAT_TOKEN"]
ROOT = os.environ["ROOT_TOKEN"]
SHOTS = os.environ["SHOTS_DIR"]
PHONE = (375, 812)
DESKTOP = (1280, 900)

checks = []


def step(text):
    print(f"· {text}", flush=True)


def expect(condition, text):
    checks.append(text)
    if not condition:
        raise AssertionError(text)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--lang=zh-CN", "--no-first-run", "--disable-extensions", "--proxy-server=direct://",
                     "--proxy-bypass-list=*"]:
        options.add_argument(argument)
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    return driver


def shoot(driver, name):
    """Screenshots of the current page at phone and desktop widths; each must not be blank."""
    for label, (width, height) in (("phone", PHONE), ("desktop", DESKTOP)):
        driver.set_window_size(width, height)
        path = os.path.join(SHOTS, f"{name}-{label}.png")
        driver.save_screenshot(path)
        with Image.open(path) as image:
            colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
            # A blank page is one or two colours; a rendered page with Chinese text has hundreds.
            busiest = max((count for count, _ in colours), default=0)
            pixels = image.width * image.height
            expect(len(colours) > 50 and busiest < pixels * 0.97,
                   f"screenshot {name}-{label} is not blank ({len(colours)} colours)")
    driver.set_window_size(*PHONE)


def click(driver, element):
    """Clicks a button that submits a form or a link, and waits for the next page to load."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()

    def left(_):
        # The old page is gone once its root cannot be asked anything. Chromium's driver may
        # say so with a stale-element error or, mid-navigation, with an inspector error
        # ("Node with given id does not belong to the document"): both mean the same.
        try:
            page.is_enabled()
            return False
        except WebDriverException:
            return True

    WebDriverWait(driver, 20).until(left)
    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")


def text(driver):
    return driver.find_element(By.TAG_NAME, "body").text


def has(driver, css):
    return len(driver.find_elements(By.CSS_SELECTOR, css)) > 0


def sign_in(driver, account, password):
    driver.get(BASE + "/admin/login")
    driver.find_element(By.ID, "account").send_keys(account)
    driver.find_element(By.ID, "password").send_keys(password)
    click(driver, driver.find_element(By.ID, "signin"))


def post(driver, path, fields):
    """A form post from outside the page, with the browser's own session cookie."""
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    data = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(BASE + path, data=data, headers={
        "Cookie": cookies, "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code




def run(name, flows):
    """Runs `flows(driver)` in a fresh browser; on a failure, a screenshot `<name>-failure.png`
    and the page's text; exits 1 when a check failed."""
    os.makedirs(SHOTS, exist_ok=True)
    try:
        driver = browser()
        try:
            flows(driver)
        except Exception:
            try:
                path = os.path.join(SHOTS, f"{name}-failure.png")
                driver.save_screenshot(path)
                print(f"failed at {driver.current_url}; screenshot {path}\n{text(driver)[:2000]}", flush=True)
            except Exception:  # noqa: BLE001 - the failure is reported below anyway
                pass
            raise
        finally:
            driver.quit()
    except AssertionError as failure:
        print(f"FAILED: {failure}", flush=True)
        sys.exit(1)
    print(f"{name} flows passed: {len(checks)} checks, screenshots in {SHOTS}", flush=True)
