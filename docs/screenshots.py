"""Screenshots of the web demo's main views into docs/ (headless Debian Chromium driven by Playwright).

    python docs/screenshots.py      # starts app.py on a free port, captures, stops it
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def main() -> None:
    import app
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env={**os.environ, "PORT": str(port)})
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url, wait_until="load")
            page.wait_for_selector("#analyze-button")
            for name, example in (("analyze-scam", "scam_ecommerce_refund"), ("analyze-benign", "benign_bank_warning")):
                page.locator("#transcript-input textarea").fill(app.load_example(example))
                page.locator("#analyze-button").click()
                page.wait_for_selector("#explanation", timeout=60_000)
                time.sleep(1.0)
                page.screenshot(path=str(ROOT / "docs" / f"{name}.png"), full_page=True)
            page.get_by_role("tab", name="实时模式 / Live call").click()
            for speaker, text in (("来电", "喂您好，我这边是支付宝客服，请问是刘先生吧？"), ("本人", "是我，什么事？"),
                                  ("来电", "您开通的百万保障明天要自动扣费了，不关闭的话每个月扣五百"),
                                  ("来电", "您先别挂电话，下载一个腾讯会议，我教您关闭")):
                page.locator("#live-speaker textarea, #live-speaker input").first.fill(speaker)
                page.locator("#live-input textarea").fill(text)
                page.locator("#live-add").click()
                time.sleep(1.5)
            page.screenshot(path=str(ROOT / "docs" / "live.png"), full_page=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    print("wrote docs/analyze-scam.png, docs/analyze-benign.png, docs/live.png")


if __name__ == "__main__":
    main()
