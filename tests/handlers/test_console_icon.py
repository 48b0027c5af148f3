"""The console's icon under the Functions console base: every page links it, and the browser that
asks for favicon.ico there (a page opened on its own) gets it too, without signing in."""

from __future__ import annotations

import re

from tests.handlers.test_console_function import PRINCIPAL, easy_auth, get  # noqa: F401


def test_the_icon_is_served_under_the_console_base(easy_auth):  # noqa: F811
    page = get("/api/console/", PRINCIPAL).get_body().decode()
    [href] = re.findall(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)">', page)
    assert href == "/api/console/static/console/favicon.svg"
    for path in (href, "/api/console/favicon.ico"):
        icon = get(path)
        assert icon.status_code == 200, path
        assert icon.mimetype == "image/svg+xml" and icon.get_body().startswith(b"<svg")
