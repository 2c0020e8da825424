"""Shared steps for the browser tests: accounts, tokens and screenshots in both themes."""

from __future__ import annotations

import itertools
from pathlib import Path

import requests

PASSWORD = "Violet-Harbour-Lantern-73"
# A model the live server knows but has not downloaded: the web app must name the fetch command.
MISSING_MODEL = "missing-model"
# The live server's upload limits (2.5 MB and 50 MB instead of the default 10 MB and 100 MB).
SERVER_IMAGE_LIMIT = 5 * 512 * 1024
SERVER_VIDEO_LIMIT = 50 * 1024 * 1024
_counter = itertools.count(1)


def unique_user(prefix: str = "user") -> dict:
    """A fresh username/email/password triple."""
    n = next(_counter)
    return {"username": f"{prefix}{n}", "email": f"{prefix}{n}@example.com", "password": PASSWORD}


def api_token(base_url: str, user: dict) -> str:
    """Register the user through the API and return a fresh access token."""
    response = requests.post(f"{base_url}/api/auth/register", json=user, timeout=30)
    assert response.status_code == 201, response.text
    response = requests.post(
        f"{base_url}/api/auth/login", json={"username": user["username"], "password": user["password"]}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def open_signed_in(page, token: str, route: str = "/dashboard") -> None:
    """Open the app at a route with the token already in localStorage (as after a log-in)."""
    page.goto("/")
    page.evaluate("token => localStorage.setItem('token', token)", token)
    page.goto(f"/#{route}")


def nav(page, name: str) -> None:
    """Follow a link of the main navigation bar."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def api_get(page, path: str) -> dict:
    """GET an API path with the page's own token (what the app itself would see)."""
    token = page.evaluate("localStorage.getItem('token')")
    response = page.request.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.ok, response.text()
    return response.json()


UNLABELLED_CONTROLS = """() => [...document.querySelectorAll("input, select, textarea, button, a[href]")]
    .filter(el => {
        if (el.type === "hidden" || el.closest("[hidden]")) return false;
        const name = (el.getAttribute("aria-label") || "").trim()
            || [...(el.labels || [])].map(l => l.textContent.trim()).join("")
            || (el.getAttribute("aria-labelledby") || "").split(" ")
                .map(id => document.getElementById(id)?.textContent.trim() || "").join("")
            || el.textContent.trim() || (el.getAttribute("title") || "").trim();
        return !name;
    })
    .map(el => el.outerHTML.slice(0, 120))"""


def assert_controls_labelled(page) -> None:
    """Every visible form control, button and link has an accessible name."""
    unlabelled = page.evaluate(UNLABELLED_CONTROLS)
    assert not unlabelled, f"controls without a label: {unlabelled}"


def screenshot_both_themes(page, directory: Path, name: str) -> None:
    """Save the current page in light and dark mode, switching with the app's own toggle.

    Every page that is photographed is also checked for unlabelled controls.
    """
    assert_controls_labelled(page)
    for theme in ("light", "dark"):
        if page.evaluate("document.documentElement.dataset.theme") != theme:
            page.click("#theme-toggle")
        page.wait_for_function("t => document.documentElement.dataset.theme === t", arg=theme)
        # Charts redraw on the next animation frame after a theme change.
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        page.screenshot(path=str(directory / f"{name}-{theme}.png"), full_page=True)
    page.click("#theme-toggle")
    page.wait_for_function("document.documentElement.dataset.theme === 'light'")
