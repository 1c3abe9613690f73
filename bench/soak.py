"""Soak: drive a running `make run` with the import and campaign flows in a loop.

    PORT=8181 make run                      # in one terminal (a fresh clone: var/ empty)
    .venv/bin/python bench/soak.py --url http://127.0.0.1:8181 --minutes 60

Each round, in the system Chromium as a marketer would: import a CSV of new contacts into a new
group through the wizard and wait for the worker to finish it; build an SMS campaign to that
group (window open all day, so quiet hours never hold it), launch it and wait until every
message shows delivered (console backend); check /healthz/background. It logs one line per
round with timings and stops at the first failure (with a screenshot), or after --minutes.
The login is `admin` with the password `make run` saved under var/. Loopback only.
"""

import argparse
import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("HERALD_CHROMIUM", "/usr/bin/chromium")


def _csv(path: Path, round_no: int, rows: int) -> Path:
    lines = ["First name,Last name,Mobile,Email"]
    for n in range(rows):
        number = f"+1415{(round_no * rows + n) % 10_000_000:07d}"
        lines.append(f"Soak{n},Round{round_no},{number},soak{round_no}-{n}@example.com")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _import(page, url: str, csv: Path, group: str, rows: int, timeout_ms: int) -> None:
    page.goto(f"{url}/contacts/import/")
    page.get_by_label("File").set_input_files(str(csv))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Map columns")).to_be_visible()
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview and confirm")).to_be_visible()
    page.get_by_label("New group name").fill(group)
    page.get_by_role("button", name="Start import").click()
    expect(page.get_by_text("Import complete")).to_be_visible(timeout=timeout_ms)
    created = page.locator("#count-created").inner_text().replace(",", "")
    updated = page.locator("#count-updated").inner_text().replace(",", "")
    if int(created) + int(updated) != rows:
        raise AssertionError(f"import counted {created} created + {updated} updated of {rows}")


def _campaign(page, url: str, group: str, rows: int, timeout_ms: int) -> None:
    page.goto(f"{url}/campaigns/new/")
    page.get_by_label("Contact group").select_option(label=group)
    page.get_by_role("button", name="Continue").click()
    page.get_by_text("SMS", exact=True).click()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Text message").fill(
        "Hi {{first_name|there}}, soak test. Reply STOP to opt out"
    )
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Campaign name").fill(group)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("From hour").select_option("0")
    page.get_by_label("Until hour (exclusive)").select_option("24")
    page.get_by_role("button", name="Continue to review").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Launch now").click()
    expect(page.locator(".flash-success")).to_contain_text("Campaign launched")
    delivered = page.locator("#campaign-live .stat", has_text="Delivered").locator(".value")
    expect(delivered).to_have_text(f"{rows:,}", timeout=timeout_ms)
    expect(page.locator("#campaign-state")).to_have_text("Completed", timeout=timeout_ms)


def _background_ok(url: str) -> str:
    try:
        with urllib.request.urlopen(f"{url}/healthz/background", timeout=10) as response:
            return response.read().decode().strip()
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"/healthz/background: {exc.code} {exc.read().decode()}") from exc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--rows", type=int, default=60, help="contacts per round")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per wait")
    parser.add_argument("--password-file", default=str(ROOT / "var" / "demo-admin-password.txt"))
    parser.add_argument("--out", default=str(ROOT / "var" / "soak"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    password = Path(args.password_file).read_text().strip()
    timeout_ms = int(args.timeout * 1000)
    run_id = time.strftime("%H%M%S")
    rounds: list[tuple[float, float]] = []
    deadline = time.monotonic() + args.minutes * 60
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.set_default_timeout(60_000)
        page.goto(f"{args.url}/login/")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{args.url}/contacts/**")
        round_no = 0
        while time.monotonic() < deadline:
            round_no += 1
            group = f"Soak {run_id}-{round_no}"
            try:
                started = time.monotonic()
                csv = _csv(out / "round.csv", int(run_id) * 1000 + round_no, args.rows)
                _import(page, args.url, csv, group, args.rows, timeout_ms)
                imported = time.monotonic()
                _campaign(page, args.url, group, args.rows, timeout_ms)
                done = time.monotonic()
                health = _background_ok(args.url)
            except Exception as exc:
                shot = out / f"failure-{round_no}.png"
                page.screenshot(path=str(shot), full_page=True)
                print(f"{time.strftime('%H:%M:%S')} round {round_no} FAILED: {exc!r} ({shot})")
                browser.close()
                return 1
            rounds.append((imported - started, done - imported))
            print(
                f"{time.strftime('%H:%M:%S')} round {round_no}: import {imported - started:.1f}s, "
                f"campaign {done - imported:.1f}s; background {health}",
                flush=True,
            )
        browser.close()
    imports, campaigns = zip(*rounds, strict=True) if rounds else ((), ())
    print(
        f"{len(rounds)} rounds in {args.minutes:g} min, none failed; import median "
        f"{statistics.median(imports):.1f}s (max {max(imports):.1f}s), campaign median "
        f"{statistics.median(campaigns):.1f}s (max {max(campaigns):.1f}s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
