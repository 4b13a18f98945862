#!/usr/bin/env python3
"""The chat page of `dolly serve` (GET /) in a real browser: headless Chromium driven by Selenium.

Starts `dolly serve --model models/dolly-demo --port 0` and checks, in the page:

  - / answers 200 text/html with the strict Content-Security-Policy (read with urllib), chat.js and
    chat.css with their types; the header shows the model name from /v1/models;
  - Shift+Enter inserts a newline and sends nothing, Enter sends; the user's own `<i>x</i>` is shown
    as text (no <i> element);
  - streaming: a long answer grows in the DOM while its request runs (sampled several times before the
    Stop button goes away), then shows its token count and tokens/s;
  - Stop mid-answer: Send comes back, the answer stops growing, "stopped" is shown, and the server's
    /metrics reports no active and no queued request;
  - HTML in the answer is text: with `<script>window.__pwned=1</script><b>bold</b>` as the context and
    a greedy question, the answer (the demo model writes tag-like text such as `<Mibleb>`) equals the
    API's own answer character for character, the conversation holds no element but the page's own,
    and window.__pwned is undefined;
  - a second turn sends the history: the conversation shows 2 user and 2 assistant messages, and the
    second answer equals the API's greedy answer to [context, question 1, answer 1, question 2];
  - at phone width (390x844) nothing overflows sideways (scrollWidth <= innerWidth), and the page
    itself does not scroll (the conversation does; the message box stays in view);
  - no CSP violation (securitypolicyviolation events) and no console error during all of the above;
  - the server's {"error": {"message": ...}} (max tokens 5000 on the demo's 256-token context) is shown
    in the conversation;
  - a server with --api-key: the page loads without a key, shows the key field, and with the key
    entered names the model;
  - a server with --no-webui answers 404 at /;
  - each server exits 0 on SIGINT.

The demo model writes its ~230 tokens in a fraction of a second, too fast to watch grow or to stop by
hand, so the streaming and Stop checks slow the browser's download to a few KB/s (DevTools network
emulation); the server has then finished, and the Stop check is about the page ending its request.
(The server freeing a slot when a client leaves is ServerTests' job.)

Saves a desktop screenshot (1100x800) of a two-turn conversation with a context (--screenshot,
default /tmp/dolly-chat-page.png). One line per check (PASS/FAIL); exit status 1 when any failed.
Skips with a WARNING and exit status 0 only when selenium, chromium or chromedriver is missing.

    tools/.venv/bin/python tools/ci/browser_chat.py [--dolly .build/debug/dolly] [--model models/dolly-demo]
"""
import argparse
import json
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # tools/
from toolpaths import ROOT  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))  # tools/ci
from serve_process import CheckFailed, Runner, Server, expect  # noqa: E402,F401

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HTML_CONTEXT = "<script>window.__pwned=1</script><b>bold</b>"
HTML_QUESTION = "What is <b>bold</b>?"
LONG_PROMPT = "Tell me a very long story."  # greedy, the demo model fills its context (~230 tokens)
# The demo model at its best: a span picked out of the context (README, "The bundled demo model").
CONTEXT = "Three hours a day will produce as much as a man ought to write.\n-- Trollope"
QUESTIONS = ["Who is quoted in this text?", 'What does the word "ephemeral" mean?']
# Elements the page itself puts in the conversation; anything else came from a text read as HTML.
PAGE_TAGS = {"article", "div", "pre", "code", "span", "button", "p", "strong"}

# Where Chromium and its driver live (Debian's packages; elsewhere the names on PATH).
CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"),
                             shutil.which("google-chrome")) if p and os.path.exists(p)), None)
CHROMEDRIVER = next((p for p in ("/usr/bin/chromedriver", shutil.which("chromedriver")) if p and os.path.exists(p)), None)


def http(url, body=None, headers=None):
    """(status, headers, text) of a GET, or of a POST of the JSON `body`."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def greedy_answer(base, messages):
    """The API's own answer (non-streamed) with the page's settings at temperature 0."""
    status, _, text = http(base + "/v1/chat/completions", {"messages": messages, "temperature": 0, "top_p": 0.92,
                                                           "repetition_penalty": 1.0})
    expect(status == 200, f"the API answered {status}: {text}")
    return json.loads(text)["choices"][0]["message"]["content"]


class Page:
    """The chat page in one headless Chromium."""

    def __init__(self, webdriver, url):
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
        options = Options()
        options.binary_location = CHROMIUM
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1100,800", "--hide-scrollbars", "--force-device-scale-factor=1"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_script_timeout(30)
        # Before any page script: record every CSP violation (DevTools scripts are not bound by the CSP).
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": """
            window.__violations = [];
            document.addEventListener("securitypolicyviolation",
                (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));"""})
        self.console = []
        self.url = url
        self.driver.get(url)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def wait(self, condition, timeout=30, what="the page"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.05)
        raise CheckFailed(f"timed out after {timeout} s waiting for {what}")

    def logs(self):
        """Console entries since the last call (and keeps them all in self.console)."""
        entries = self.driver.get_log("browser")
        self.console += entries
        return entries

    def element(self, element_id):
        return self.driver.find_element("id", element_id)

    def counts(self):
        return self.js("""return ["user", "assistant", "error"].map(
            (r) => document.querySelectorAll("#conversation .message." + r).length);""")

    def last_answer(self):
        return self.js("""const a = document.querySelectorAll("#conversation .message.assistant");
            return a.length ? a[a.length - 1].querySelector(".body").textContent : null;""")

    def last_meta(self):
        return self.js("""const a = document.querySelectorAll("#conversation .message.assistant");
            const facts = a.length ? a[a.length - 1].querySelector(".meta .facts") : null;
            return facts ? facts.textContent : "";""")

    def streaming(self):
        return self.js("""return !document.getElementById("stop-button").hidden;""")

    def send_ready(self):
        return self.js("""const b = document.getElementById("send"); return !b.hidden && !b.disabled;""")

    def type_and_send(self, text):
        prompt = self.element("prompt")
        prompt.clear()
        prompt.send_keys(text)
        from selenium.webdriver.common.keys import Keys
        prompt.send_keys(Keys.ENTER)

    def ask(self, text, timeout=60):
        """Sends `text` and waits until its answer has ended; returns the answer's text."""
        before = self.counts()[1]
        self.type_and_send(text)
        self.wait(lambda: self.counts()[1] > before and not self.streaming() and self.send_ready(), timeout,
                  f"the answer to {text!r}")
        return self.last_answer()

    def new_conversation(self):
        self.element("new-chat").click()
        self.wait(lambda: self.counts() == [0, 0, 0], 5, "an empty conversation")

    def set_field(self, element_id, value):
        """Sets a settings or context field as a user would (opening its panel first)."""
        field = self.element(element_id)
        panel = self.driver.execute_script("return arguments[0].closest('details')", field)
        if panel is not None and not panel.get_attribute("open"):
            panel.find_element("tag name", "summary").click()
        field.clear()
        if value:
            field.send_keys(value)

    def close_panels(self):
        self.js("""document.querySelectorAll("details").forEach((d) => { d.open = false; });""")

    def throttle(self, bytes_per_second):
        """DevTools network emulation: None lifts it."""
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "uploadThroughput": -1,
            "downloadThroughput": -1 if bytes_per_second is None else bytes_per_second})

    def foreign_elements(self):
        """Tags inside the conversation that the page does not make itself."""
        return self.js("""return [...document.querySelectorAll("#conversation *")].map((e) => e.tagName.toLowerCase())
            .filter((t) => !arguments[0].includes(t));""", sorted(PAGE_TAGS))

    def screenshot(self, path, width, height):
        """A width x height viewport exactly (a headless window's size is not quite its viewport's)."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        try:
            self.wait(lambda: self.js("return [innerWidth, innerHeight]") == [width, height], 5, f"a {width}x{height} viewport")
            self.js("document.activeElement.blur()")  # no focus ring in the picture
            time.sleep(0.2)  # the conversation keeps its last message in view after the resize
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            self.driver.save_screenshot(path)
        finally:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    def quit(self):
        self.driver.quit()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Checks: see the module docstring (the script's head).")
    parser.add_argument("--dolly", default=".build/debug/dolly", help="the dolly binary (default: %(default)s)")
    parser.add_argument("--model", default="models/dolly-demo", help="the model to serve (default: %(default)s)")
    parser.add_argument("--screenshot", default="/tmp/dolly-chat-page.png",
                        help="where to save the desktop screenshot (default: %(default)s)")
    parser.add_argument("--throttle", type=int, default=12000,
                        help="bytes/s the browser downloads answers at in the streaming and Stop checks (default: %(default)s)")
    args = parser.parse_args()

    try:
        from selenium import webdriver
    except ImportError:
        print("WARNING: browser_chat.py skipped: the selenium package is missing (pip install selenium)")
        sys.exit(0)
    if CHROMIUM is None or CHROMEDRIVER is None:
        print("WARNING: browser_chat.py skipped: chromium or chromedriver is missing (apt-get install chromium chromium-driver)")
        sys.exit(0)

    os.chdir(ROOT)  # relative --dolly and --model are the repository's
    dolly, model_path = os.path.abspath(args.dolly), os.path.abspath(args.model)
    if not os.path.exists(dolly):
        sys.exit(f"browser_chat.py: no dolly binary at {dolly} (swift build, or --dolly)")
    name = re.sub(r"\.dolly$", "", os.path.basename(model_path.rstrip("/")))

    started = time.monotonic()
    servers, pages, runner = [], [], Runner()
    try:
        server = Server(dolly, model_path)
        servers.append(server)
        base = server.url
        print(f"server: {base}", flush=True)

        def headers():
            found = []
            for path, kind in (("/", "text/html"), ("/chat.js", "text/javascript"), ("/chat.css", "text/css")):
                status, h, _ = http(base + path)
                expect(status == 200, f"{path}: status {status}")
                expect(h.get("Content-Type", "").startswith(kind), f"{path}: Content-Type {h.get('Content-Type')!r}")
                expect(h.get("Content-Security-Policy") == CSP, f"{path}: CSP {h.get('Content-Security-Policy')!r}")
                expect(h.get("X-Content-Type-Options") == "nosniff", f"{path}: X-Content-Type-Options")
                found.append(h.get("Content-Type"))
            return ", ".join(found)
        runner.check("GET / answers text/html with the CSP header; chat.js and chat.css with their types", headers)

        page = Page(webdriver, base + "/")
        pages.append(page)

        def model_name():
            shown = page.wait(lambda: page.element("model").text if page.element("model").text != "connecting…" else None,
                              10, "the model name")
            expect(shown == name, f"the header shows {shown!r}, not {name!r}")
            return shown
        runner.check("the header names the model from /v1/models", model_name)

        def keyboard():
            from selenium.webdriver.common.action_chains import ActionChains
            from selenium.webdriver.common.keys import Keys
            prompt = page.element("prompt")
            prompt.click()
            prompt.send_keys("Line one <i>x</i>")
            ActionChains(page.driver).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
            prompt.send_keys("What is it?")
            value = prompt.get_attribute("value")
            expect(value == "Line one <i>x</i>\nWhat is it?", f"after Shift+Enter the box holds {value!r}")
            expect(page.counts() == [0, 0, 0], f"Shift+Enter sent something: {page.counts()}")
            prompt.send_keys(Keys.ENTER)
            page.wait(lambda: page.counts()[0] == 1, 5, "the message to be sent")
            page.wait(lambda: page.send_ready() and not page.streaming(), 30, "the answer")
            shown = page.js("""return document.querySelector("#conversation .message.user .body").textContent;""")
            expect(shown == "Line one <i>x</i>\nWhat is it?", f"the user message shows {shown!r}")
            expect(not page.js("""return document.querySelector("#conversation i");"""), "an <i> element in the conversation")
            expect(prompt.get_attribute("value") == "", "the box was not emptied")
            focused = page.js("return document.activeElement.id")
            expect(focused == "prompt", f"focus is on {focused!r}, not the message box")
        runner.check("Shift+Enter inserts a newline, Enter sends; the user's <i>x</i> is shown as text", keyboard)

        def streaming():
            page.new_conversation()
            page.set_field("temperature", "0")
            page.close_panels()
            page.throttle(args.throttle)
            try:
                page.type_and_send(LONG_PROMPT)
                page.wait(page.streaming, 5, "the Stop button")
                samples = []  # answer lengths while the request runs
                while page.streaming():
                    samples.append(len(page.last_answer() or ""))
                    time.sleep(0.15)
            finally:
                page.throttle(None)
            page.wait(page.send_ready, 10, "Send")
            final = len(page.last_answer())
            growing = sorted(set(s for s in samples if 0 < s < final))
            expect(len(growing) >= 3, f"the answer did not grow while streaming: samples {samples}, final {final}")
            meta = page.last_meta()
            m = re.search(r"(\d+) tokens · ([\d.]+) tokens/s", meta)
            expect(m and int(m.group(1)) > 100, f"the answer's facts read {meta!r}")
            return f"{len(growing)} distinct lengths while streaming, {final} characters; {meta.strip()}"
        runner.check("a long answer grows in the DOM while streaming, then shows tokens and tokens/s", streaming)

        def stop():
            page.new_conversation()
            page.throttle(args.throttle)
            try:
                page.type_and_send(LONG_PROMPT)
                page.wait(lambda: page.streaming() and len(page.last_answer() or "") > 40, 10, "some streamed text")
                page.element("stop-button").click()
                page.wait(page.send_ready, 3, "Send after Stop")
                at_stop = len(page.last_answer())
                expect(not page.streaming(), "the Stop button is still shown")
                time.sleep(1.0)
                later = len(page.last_answer())
            finally:
                page.throttle(None)
            expect(later == at_stop, f"the answer grew after Stop: {at_stop} -> {later} characters")
            meta = page.last_meta()
            expect("stopped" in meta, f"the answer's facts read {meta!r}")
            _, _, metrics = http(base + "/metrics")
            active = re.search(r"^dolly_requests_active (\d+)", metrics, re.M)
            queued = re.search(r"^dolly_requests_queued (\d+)", metrics, re.M)
            expect(active and queued, "/metrics has no dolly_requests_active / dolly_requests_queued")
            expect(active.group(1) == "0" and queued.group(1) == "0",
                   f"/metrics: {active.group(1)} active, {queued.group(1)} queued")
            return f"stopped at {at_stop} characters; {meta.strip()}; /metrics: 0 active, 0 queued"
        runner.check("Stop ends the request: Send is back, the answer stops growing, /metrics shows none active", stop)

        def html_answer():
            page.new_conversation()
            page.set_field("context", HTML_CONTEXT)
            page.close_panels()
            shown = page.ask(HTML_QUESTION)
            want = greedy_answer(base, [{"role": "system", "content": HTML_CONTEXT},
                                        {"role": "user", "content": HTML_QUESTION}])
            expect(shown == want.strip("\n"), f"the page shows {shown!r}, the API answered {want!r}")
            expect("<" in shown, f"the greedy answer {shown!r} holds no tag-like text to test with")
            foreign = page.foreign_elements()
            expect(not foreign, f"elements from the answer or the question in the conversation: {foreign}")
            expect(page.js("return typeof window.__pwned") == "undefined", "window.__pwned is set")
            question = page.js("""return document.querySelector("#conversation .message.user .body").textContent;""")
            expect(question == HTML_QUESTION, f"the question shows as {question!r}")
            if "<b>" in want:
                expect("<b>" in shown, "the literal <b> of the answer is not shown")
            return f"answer {shown!r}"
        runner.check("HTML in the context, the question and the answer is shown as text; no script runs", html_answer)

        def two_turns():
            page.new_conversation()
            page.set_field("context", CONTEXT)
            page.js("""document.getElementById("settings").open = false;""")  # the screenshot shows the context
            first = page.ask(QUESTIONS[0])
            second = page.ask(QUESTIONS[1])
            expect(page.counts() == [2, 2, 0], f"the conversation holds {page.counts()} user/assistant/error messages")
            want = greedy_answer(base, [{"role": "system", "content": CONTEXT}, {"role": "user", "content": QUESTIONS[0]},
                                        {"role": "assistant", "content": first}, {"role": "user", "content": QUESTIONS[1]}])
            expect(second == want.strip("\n"), f"turn 2 shows {second!r}; the API, given the history, answers {want!r}")
            page.screenshot(args.screenshot, 1100, 800)
            return f"screenshot {args.screenshot}"
        runner.check("a second turn sends the history: 2 user + 2 assistant messages, the API's answer", two_turns)

        def phone():
            page.new_conversation()  # with an answer taller than a phone's screen
            page.js("""document.getElementById("context").value = "";""")
            page.ask(LONG_PROMPT)
            page.driver.set_window_size(390, 844)
            width = page.wait(lambda: page.js("return window.innerWidth") == 390 and 390, 5, "a 390 px window")
            sizes = []
            for state in ("closed", "open"):
                page.js("""document.querySelectorAll("details").forEach((d) => { d.open = arguments[0]; });""",
                        state == "open")
                scroll, inner, tall, high = page.js("""const d = document.documentElement;
                    return [d.scrollWidth, innerWidth, d.scrollHeight, innerHeight];""")
                expect(scroll <= inner, f"panels {state}: scrollWidth {scroll} > innerWidth {inner}")
                # The page itself never scrolls: the conversation does, and the message box stays in view.
                expect(tall <= high, f"panels {state}: scrollHeight {tall} > innerHeight {high}")
                sizes.append(f"panels {state}: {scroll} <= {inner}")
            page.close_panels()
            page.driver.set_window_size(1100, 800)
            return f"{width} px: " + ", ".join(sizes)
        runner.check("phone width 390x844: no horizontal overflow", phone)

        def console():
            violations = page.js("return window.__violations")
            expect(not violations, f"CSP violations: {violations}")
            entries = page.logs()
            errors = [e["message"] for e in page.console if e.get("level") == "SEVERE"]
            csp = [m for m in errors if "Content Security Policy" in m or "Refused to" in m]
            expect(not csp, f"CSP errors on the console: {csp}")
            expect(not errors, f"console errors: {errors}")
            return f"{len(entries)} console entries, none an error"
        runner.check("no CSP violation and no console error in the whole session", console)

        # Both checks below make the browser log a failed request (400, 401) on its console.
        def server_error():
            page.new_conversation()
            page.set_field("max_tokens", "5000")
            try:
                page.type_and_send("Hello?")
                page.wait(lambda: page.counts()[2] == 1 and page.send_ready(), 10, "an error message")
            finally:
                page.element("defaults").click()
                page.close_panels()
            shown = page.js("""return document.querySelector("#conversation .message.error .body").textContent;""")
            expect("exceed the context" in shown, f"the error reads {shown!r}")
            expect(page.counts() == [1, 0, 1], f"{page.counts()} user/assistant/error messages")
            expect(page.element("max_tokens").get_attribute("value") == "", "Restore Dolly's defaults left max tokens set")
            return shown
        runner.check("the server's error message is shown in the conversation", server_error)

        def api_key():
            keyed = Server(dolly, model_path, ["--api-key", "k"])
            servers.append(keyed)
            status, _, _ = http(keyed.url + "/v1/models")
            expect(status == 401, f"/v1/models without a key answered {status}")
            page.driver.get(keyed.url + "/")
            page.wait(lambda: page.element("key-row").is_displayed(), 10, "the API key field")
            key = page.element("api-key")
            expect(page.js("return document.activeElement.id") == "api-key", "the key field has no focus")
            key.send_keys("k")
            from selenium.webdriver.common.keys import Keys
            key.send_keys(Keys.ENTER)
            shown = page.wait(lambda: page.element("model").text == name and name, 10, "the model name with the key")
            expect(not page.element("key-row").is_displayed(), "the key field is still shown")
            answer = page.ask("Say hello.")
            expect(page.counts() == [1, 1, 0], f"with the key: {page.counts()} user/assistant/error messages, {answer!r}")
            return f"header {shown!r}, answer {answer!r}"
        runner.check("--api-key: the page loads without a key, asks for it, then works with it", api_key)

        def no_webui():
            bare = Server(dolly, model_path, ["--no-webui"])
            servers.append(bare)
            status, _, _ = http(bare.url + "/")
            expect(status == 404, f"/ answered {status}")
            status, _, _ = http(bare.url + "/v1/models")
            expect(status == 200, f"/v1/models answered {status}")
        runner.check("--no-webui: / answers 404, the API still answers", no_webui)
    except Exception as e:  # noqa: BLE001  (a server or browser that does not start)
        runner.count += 1
        runner.failed += 1
        print(f"FAIL setup: {type(e).__name__}: {e}", flush=True)
    finally:
        for page in pages:
            page.quit()
        for server in servers:
            runner.stopped(server)

    print(f"{runner.count - runner.failed}/{runner.count} passed in {time.monotonic() - started:.1f} s", flush=True)
    sys.exit(1 if runner.failed else 0)


if __name__ == "__main__":
    main()
