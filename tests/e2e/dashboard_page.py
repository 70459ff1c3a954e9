"""The dashboard as a headless Chromium sees it: shared by the browser test and benchmarks/dashboard_overview.py.

Selectors are Streamlit's own `data-testid`s and the labels the dashboard shows (the sidebar
button "Log in", "Logged in as ...", the overview chart titled "Drift timeline"), plus the
sandbox identity provider's user picker (`<button id="login-alice">`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import JavascriptException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

#: The longest any single wait may take; a cold Streamlit page on a busy 2-core machine takes seconds.
TIMEOUT = 60
WINDOW = (1400, 900)

CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
    # Everything the test needs is on the loopback interface; any other lookup fails at once
    # instead of waiting on a network the machines do not have.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
]
INSTALL_HINT = "`make browser` installs both (Debian, as root or with sudo: apt-get install -y chromium chromium-driver)"

# Plotly keeps a chart's layout on its graph div; the rendered SVG title is the fallback.
_CHART_TITLES = """
return Array.from(document.querySelectorAll('.js-plotly-plot')).map(function (chart) {
  var title = chart.layout && chart.layout.title;
  var text = title && (typeof title === 'string' ? title : title.text);
  if (!text) { var svg = chart.querySelector('.gtitle'); text = svg ? svg.textContent : ''; }
  return text || '';
});
"""


def _find(name: str) -> str | None:
    # /usr/bin too: where Debian's packages put them, even when PATH (e.g. under sudo) lacks it.
    return shutil.which(name) or shutil.which(name, path="/usr/bin")


def browser_paths() -> tuple[str | None, str | None]:
    """(chromium, chromedriver): where they are, or None for each that is missing."""
    return _find("chromium") or _find("chromium-browser"), _find("chromedriver")


def missing_browser() -> str | None:
    """Why the browser cannot be driven (naming what is missing), or None when it can."""
    chromium, chromedriver = browser_paths()
    missing = [name for name, path in (("chromium", chromium), ("chromedriver", chromedriver)) if path is None]
    if not missing:
        return None
    return f"{' and '.join(missing)} not found on PATH or in /usr/bin; {INSTALL_HINT}"


def start_chromium(user_data_dir: str | Path) -> WebDriver:
    """Headless Chromium through the system's chromedriver, with a fresh profile in ``user_data_dir``."""
    chromium, chromedriver = browser_paths()
    if chromium is None or chromedriver is None:
        raise RuntimeError(missing_browser())
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    driver = webdriver.Chrome(options=options, service=Service(chromedriver))
    try:
        driver.set_page_load_timeout(TIMEOUT)
        driver.set_script_timeout(TIMEOUT)
        set_viewport(driver, *WINDOW)
    except BaseException:
        driver.quit()
        raise
    return driver


def set_viewport(driver: WebDriver, width: int, height: int) -> None:
    """Make the page itself ``width`` x ``height`` CSS pixels (a headless window's size includes its frame)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


class DashboardPage:
    """The dashboard at ``url`` in ``driver``; every wait is explicit, checks every ``poll`` s and ends
    after ``timeout`` s (a benchmark timing page loads polls more often)."""

    def __init__(self, driver: WebDriver, url: str, timeout: float = TIMEOUT, poll: float = 0.1):
        self.driver = driver
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.poll = poll

    def wait(self, timeout: float | None = None) -> WebDriverWait:
        # A Streamlit rerun replaces elements while we look at them: retry instead of failing.
        return WebDriverWait(self.driver, timeout or self.timeout, poll_frequency=self.poll,
                             ignored_exceptions=(StaleElementReferenceException, JavascriptException))

    def open(self, path: str = "/") -> None:
        self.driver.get(self.url + path)

    def log_in(self, username: str = "alice") -> None:
        """Click the sidebar's "Log in", pick ``username`` at the sandbox provider, wait to be back logged in."""
        button = (By.XPATH, "//*[@data-testid='stSidebar']//button[contains(normalize-space(.), 'Log in')]")
        self.wait().until(EC.element_to_be_clickable(button), "no 'Log in' button in the sidebar").click()
        self.wait().until(EC.element_to_be_clickable((By.ID, f"login-{username}")),
                          "the identity provider's user picker did not show").click()
        self.wait().until(lambda driver: driver.current_url.startswith(self.url)
                          and "Logged in as" in self.sidebar_text(),
                          "not back on the dashboard, logged in")

    def sidebar_text(self) -> str:
        elements = self.driver.find_elements(By.CSS_SELECTOR, "[data-testid='stSidebar']")
        return elements[0].text if elements else ""

    def chart_titles(self) -> list[str]:
        return self.driver.execute_script(_CHART_TITLES)

    def wait_for_chart(self, title: str, timeout: float | None = None) -> str:
        """Wait until a plotly chart whose title contains ``title`` is rendered; return that title.

        Fails at once, with the error's text, when the page shows an exception or an error alert.
        """
        def rendered(driver):
            errors = self.errors()
            if errors:
                raise AssertionError(f"the dashboard shows an error instead of {title!r}: {errors}")
            return next((text for text in self.chart_titles() if title in text), False)

        try:
            return self.wait(timeout).until(rendered)
        except TimeoutException:
            raise TimeoutException(f"no chart titled {title!r} within {timeout or self.timeout} s; charts: "
                                   f"{self.chart_titles()}; errors: {self.errors()}; page: {self.body_text()[:1500]}"
                                   ) from None

    def wait_until_idle(self, timeout: float | None = None) -> None:
        """Wait until the script run has finished (Streamlit's status widget says nothing)."""
        def idle(driver):
            widgets = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stStatusWidget']")
            return not any("Running" in widget.text or "Stop" in widget.text for widget in widgets)

        self.wait(timeout).until(idle, "the dashboard kept running its script")

    def errors(self) -> list[str]:
        """Texts of exceptions and error alerts on the page."""
        selector = "[data-testid='stException'], [data-testid='stAlertContentError']"
        return [element.text for element in self.driver.find_elements(By.CSS_SELECTOR, selector)]

    def body_text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text
