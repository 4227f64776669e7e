#!/usr/bin/env python3
"""Open the HTML report in headless Chromium: check it loads nothing and draws every plot; save a screenshot.

Usage:
    python bench/render_report.py [--html REPORT.html] [--png OUT.png] [--width 1280]

Without --html it first builds a report of the bundled example table against a
strict-mode synthetic copy of it. The page is opened through ChromeDriver (Debian's
chromium and chromium-driver: ``apt-get install -y chromium chromium-driver``) with
every connection sent to a proxy at 127.0.0.1:9, where nothing listens, so no
request can leave the machine; then it checks that

* the page asked for nothing: no entry in its Resource Timing list and no network
  request in the browser's performance log other than the page's own file;
* every plot was drawn: each inline <svg> has a size and holds shapes;

and saves a full-page PNG (default ``bench/out/report.png``). Exit status 1 when a
check fails, 2 when Chromium or ChromeDriver is missing.
"""
from __future__ import annotations

import argparse
import base64
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Everything the browser might fetch on its own (updates, sync, metrics) is switched off too, and
# whatever is left goes to a proxy where nothing listens.
CHROME_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-default-apps", "--no-first-run", "--disable-extensions", "--mute-audio",
]
PAGE_CHECK = """
const svgs = Array.from(document.querySelectorAll('svg'));
return {
  ready: document.readyState,
  resources: performance.getEntriesByType('resource').map(e => e.name),
  svgs: svgs.length,
  empty: svgs.filter(s => {
      const r = s.getBoundingClientRect();
      return r.width < 50 || r.height < 30 || s.querySelectorAll('path,use,image').length === 0;
    }).map(s => s.outerHTML.slice(0, 80)),
  height: Math.ceil(document.documentElement.scrollHeight),
  title: document.title,
};
"""


@dataclass
class Rendered:
    """What the browser saw."""

    png: Path
    requests: list[str] = field(default_factory=list)  # anything fetched besides the page itself
    svgs: int = 0
    empty: list[str] = field(default_factory=list)
    height: int = 0
    title: str = ""

    @property
    def ok(self) -> bool:
        return not self.requests and not self.empty and self.svgs > 0


def available() -> str | None:
    """Why the browser check cannot run here, or None when it can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            return f"{path} is missing (apt-get install -y chromium chromium-driver)"
    return None


def render(html: Path, png: Path, *, width: int = 1280) -> Rendered:
    """Open `html` in headless Chromium through ChromeDriver, check it, save a full-page screenshot."""
    return render_all([(html, png)], width=width)[0]


def render_all(pages: list[tuple[Path, Path]], *, width: int = 1280) -> list[Rendered]:
    """Like :func:`render` for several (page, screenshot) pairs, in one browser."""
    port = _free_port()
    out = []
    with tempfile.TemporaryDirectory() as profile:
        driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for(base)
            args = [*CHROME_ARGS, f"--user-data-dir={profile}", f"--window-size={width},900"]
            caps = {"capabilities": {"alwaysMatch": {
                "browserName": "chrome", "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
                "goog:loggingPrefs": {"performance": "ALL"},
            }}}
            session = _call(f"{base}/session", caps)["sessionId"]
            s = f"{base}/session/{session}"
            try:
                for html, png in pages:
                    out.append(_open(s, html, png, width))
            finally:
                _call(s, method="DELETE")
        finally:
            driver.terminate()
            driver.wait(timeout=10)
    return out


def _open(s: str, html: Path, png: Path, width: int) -> Rendered:
    page_url = html.resolve().as_uri()
    _call(f"{s}/url", {"url": page_url})
    seen = _call(f"{s}/execute/sync", {"script": PAGE_CHECK, "args": []})
    requests = [u for u in seen["resources"] if not u.startswith("data:")]
    requests += _network_requests(s, page_url)
    # A window as tall as the page, so one screenshot holds all of it.
    _call(f"{s}/window/rect", {"width": width, "height": seen["height"] + 140})
    png.parent.mkdir(parents=True, exist_ok=True)
    png.write_bytes(base64.b64decode(_call(f"{s}/screenshot", method="GET")))
    return Rendered(png, sorted(set(requests)), seen["svgs"], seen["empty"], seen["height"], seen["title"])


def _network_requests(session_url: str, page_url: str) -> list[str]:
    """URLs the page asked the network for (the performance log's requests made by its document)."""
    out = []
    for entry in _call(f"{session_url}/se/log", {"type": "performance"}):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            params = message["params"]
            url = params["request"]["url"]
            if params.get("documentURL") == page_url and url != page_url and not url.startswith("data:"):
                out.append(url)
    return out


def _call(url: str, body: dict | None = None, *, method: str | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return json.loads(resp.read() or b"{}").get("value")
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"ChromeDriver: {e.read().decode(errors='replace')[:500]}") from None


def _wait_for(base: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if _call(f"{base}/status", method="GET").get("ready"):
                return
        except (OSError, RuntimeError):
            pass
        time.sleep(0.1)
    raise RuntimeError("ChromeDriver did not start")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def example_report(path: Path) -> Path:
    """Write the report of the bundled example table against a strict-mode synthetic copy."""
    import duckdb

    import duckdb_synth
    from duckdb_synth.surfaces.demo import example_path

    con = duckdb.connect()
    try:
        duckdb_synth.register(con)
        con.execute(f"CREATE TABLE patients AS SELECT * FROM read_parquet('{example_path()}')")
        con.execute("CREATE TABLE patients_synth AS SELECT * FROM synthesize('patients', mode := 'strict', "
                    "masks := {'email': 'email', 'name': 'name'}, seed := 7)")
        return duckdb_synth.report(con, "patients", "patients_synth").to_html(path)
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--html", type=Path, help="the report to open (default: build one from the example table)")
    ap.add_argument("--png", type=Path, default=ROOT / "bench" / "out" / "report.png")
    ap.add_argument("--width", type=int, default=1280)
    args = ap.parse_args(argv)
    missing = available()
    if missing:
        print(f"cannot render: {missing}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        html = args.html or example_report(Path(tmp) / "report.html")
        size = html.stat().st_size
        got = render(html, args.png, width=args.width)
        if args.html is None:
            shutil.copy(html, args.png.with_suffix(".html"))
    print(f"page: {size / 1024:.0f} KB, {got.svgs} inline SVG plots, {got.height} px tall ({got.title})")
    print(f"requests besides the page: {len(got.requests)}" + (f": {got.requests}" if got.requests else ""))
    print(f"plots not drawn: {len(got.empty)}" + (f": {got.empty}" if got.empty else ""))
    print(f"screenshot: {got.png}")
    return 0 if got.ok else 1


if __name__ == "__main__":
    sys.exit(main())
