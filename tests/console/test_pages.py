"""The console over plain HTTP: every page answers, escapes what senders wrote, masks secrets, and
refuses changes without a CSRF token or an identity."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
import requests

from tests.conftest import wait_until
from tests.console.conftest import (OPERATOR_KEY, SECRET_QUERY, alert, csrf_of, post_alert, post_run_failed)

SCRIPT = '<script>alert("pwned")</script>'


def event_id_of(server, title_part: str) -> str:
    from alertrouter.store.base import EventFilter

    events = [e for e, _ in server.app.store.list_events(EventFilter()).events if title_part in e.title]
    assert events, f"no event with {title_part!r}"
    return events[0].id


class Elements(HTMLParser):
    """Every start tag with its attributes, as a browser's parser sees them."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_safe_page(r: requests.Response) -> None:
    """CSP on the page, and no inline script or style: every script element loads a file of ours,
    no element has an event handler attribute."""
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY"
    tags = Elements(r.text).tags
    assert tags, "not HTML"
    for tag, attrs in tags:
        assert tag not in ("style", "img", "iframe") or tag == "iframe" and "sandbox" in attrs, (tag, attrs)
        if tag == "script":
            assert re.fullmatch(r"/static/console/[a-z.]+\.js", attrs.get("src") or ""), attrs
        assert not [a for a in attrs if a.startswith("on") or a == "style"], (tag, attrs)


def test_every_page_answers_with_its_headers(open_server):
    post_run_failed(open_server)
    post_alert(open_server, alert(1, severity="Sev3"))
    eid = event_id_of(open_server, "cpu-high")
    nid = open_server.app.store.notifications_for(event_id_of(open_server, "automl"))[0].id
    s = requests.Session()
    for path in ["/", "/?kind=alert.fired", "/?label=experiment%3Dautoml-local-regression&since=30d",
                 f"/event?id={requests.utils.quote(eid)}", "/silences", "/silences?preview=1&matchers=resource%3Dvm-7",
                 "/outbox", "/outbox?status=sent", "/outbox?status=pending", "/outbox?status=held", "/routing",
                 "/status", "/login"]:
        r = s.get(open_server.url + path, timeout=10)
        assert r.status_code == 200, (path, r.status_code, r.text[:500])
        assert r.headers["Content-Type"].startswith("text/html")
        assert_safe_page(r)
    mail = [n for n in open_server.app.store.notifications_for(event_id_of(open_server, "automl")) if n.channel == "mail"]
    r = s.get(open_server.url + f"/event/email?n={mail[0].id}", timeout=10)
    assert r.status_code == 200 and "<html" in r.text.lower()
    assert "sandbox" in r.headers["Content-Security-Policy"] and "script-src" not in r.headers["Content-Security-Policy"]
    for name, kind in [("console.css", "text/css"), ("console.js", "text/javascript"),
                       ("adaptivecards.min.js", "text/javascript"), ("adaptivecards.LICENSE.txt", "text/plain")]:
        r = s.get(open_server.url + f"/static/console/{name}", timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(kind), name
    assert s.get(open_server.url + "/static/console/..%2Fpages.py", timeout=10).status_code == 404
    assert s.get(open_server.url + "/event?id=nope", timeout=10).status_code == 404
    assert s.get(open_server.url + f"/event/email?n={nid}x", timeout=10).status_code == 404
    assert s.get(open_server.url + "/?since=yesterday", timeout=10).status_code == 400


def test_what_senders_wrote_shows_as_text(open_server):
    post_alert(open_server, alert(2, rule=SCRIPT, severity="Sev3", description=f"{SCRIPT} <img src=x onerror=alert(2)>"))
    eid = event_id_of(open_server, "script")
    s = requests.Session()
    for path in ["/", f"/event?id={requests.utils.quote(eid)}", "/outbox?status=pending"]:
        r = s.get(open_server.url + path, timeout=10)
        assert SCRIPT not in r.text and "<img src=x" not in r.text, path
        assert_safe_page(r)
    page = s.get(open_server.url + f"/event?id={requests.utils.quote(eid)}", timeout=10).text
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in page
    r = s.get(open_server.url + "/routing", timeout=10)
    import json

    tried = s.post(open_server.url + "/routing/try", data={"csrf": csrf_of(r.text), "payload": json.dumps(
        alert(3, rule=SCRIPT, severity="Sev3"))}, timeout=10)
    assert tried.status_code == 200 and SCRIPT not in tried.text and "&lt;script&gt;" in tried.text


def test_secrets_never_reach_a_page(open_server):
    doc = alert(4, severity="Sev3")
    doc["data"]["customProperties"] = {"apiKey": "k-LEAK-1", "callback": f"https://hooks.example.org/x?{SECRET_QUERY}",
                                       "note": "Bearer eyLEAK.token.value"}
    post_alert(open_server, doc)
    eid = event_id_of(open_server, "cpu-high")
    wait_until(lambda: open_server.app.store.counts()["sent"] >= 1, what="the Teams notice sent")
    s = requests.Session()
    pages = [s.get(open_server.url + p, timeout=10).text for p in
             ["/", f"/event?id={requests.utils.quote(eid)}", "/status", "/routing", "/outbox?status=sent"]]
    for text in pages:
        for secret in ("k-LEAK-1", "TopSecretSig123", "eyLEAK", "smtp-Pa55word", "/teams?", "/pager?"):
            assert secret not in text
    assert "&lt;redacted&gt;" in pages[1]


def test_the_email_preview_masks_secrets_as_text(open_server):
    post_alert(open_server, alert(10, severity="Sev3",
                                  description="password smtp-Pa55word, see https://x.example/r?t=1&sig=Zq9Tq"))
    eid = event_id_of(open_server, "cpu-high")
    [mail] = [n for n in open_server.app.store.notifications_for(eid) if n.channel == "mail"]
    html = requests.get(open_server.url + "/event/email", params={"n": mail.id}, timeout=10).text
    assert "smtp-Pa55word" not in html and "Zq9Tq" not in html
    assert "password &lt;redacted&gt;" in html and "https://x.example/r?t=1&amp;sig=&lt;redacted&gt;" in html
    assert "<redacted>" not in html


def test_changes_need_the_csrf_token(open_server):
    s = requests.Session()
    page = s.get(open_server.url + "/silences?preview=1&matchers=resource%3Dvm-7", timeout=10)
    token = csrf_of(page.text)
    form = {"matchers": "resource=vm-7", "duration": "1h", "author": "ana", "comment": "reboot"}
    for data, cookies in [(form, None), ({**form, "csrf": "forged"}, None)]:
        r = s.post(open_server.url + "/silences", data=data, allow_redirects=False, timeout=10)
        assert r.status_code == 403
    other = requests.post(open_server.url + "/silences", data={**form, "csrf": token}, allow_redirects=False,
                          timeout=10)  # the token without its cookie (another browser)
    assert other.status_code == 403
    cross = s.post(open_server.url + "/silences", data={**form, "csrf": token}, allow_redirects=False,
                   headers={"Origin": "https://evil.example"}, timeout=10)
    assert cross.status_code == 403
    for path in ["/silences/expire", "/outbox/redrive", "/routing/try", "/logout"]:
        assert s.post(open_server.url + path, data={"id": "x"}, timeout=10).status_code == 403, path
    assert open_server.app.store.state_list("silence") == []
    ok = s.post(open_server.url + "/silences", data={**form, "csrf": token}, allow_redirects=False, timeout=10)
    assert ok.status_code == 303 and ok.headers["Location"].startswith("/silences?created=s_")


def test_silence_form_previews_then_creates_then_expires(open_server):
    post_alert(open_server, alert(5, resource="vm-7", severity="Sev3"))
    post_alert(open_server, alert(6, resource="vm-8", severity="Sev3"))
    s = requests.Session()
    preview = s.get(open_server.url + "/silences", params={"preview": "1", "matchers": "resource=vm-7",
                                                           "duration": "2h", "author": "ana", "comment": "reboot"},
                    timeout=10)
    assert preview.status_code == 200
    affected = preview.text.split("Open alerts it would silence now")[1].split("</ul>")[0]
    assert affected.count("<li>") == 1 and "cpu-high" in affected
    bad = s.get(open_server.url + "/silences", params={"preview": "1", "matchers": "resource"}, timeout=10)
    assert bad.status_code == 400 and "is not a matcher" in bad.text
    token = csrf_of(preview.text)  # one per session
    r = s.post(open_server.url + "/silences", data={"csrf": token, "matchers": "resource=vm-7",
                                                    "duration": "2h", "author": "ana", "comment": "reboot"}, timeout=10)
    assert r.status_code == 200 and "created" in r.text
    [(sid, doc, _)] = open_server.app.store.state_list("silence")
    assert doc["matchers"] == {"resource": "vm-7"} and doc["created_by"] == "ana"
    r = s.post(open_server.url + "/silences/expire", data={"csrf": token, "id": sid}, timeout=10)
    assert r.status_code == 200 and open_server.app.store.state_get("silence", sid)[0]["expired_at"] is not None
    missing = s.post(open_server.url + "/silences", data={"csrf": token, "matchers": "resource=vm-7",
                                                          "duration": "1h", "author": "", "comment": ""}, timeout=10)
    assert missing.status_code == 400 and "author and a comment" in missing.text


def form_with_button(html: str, label: str) -> tuple[dict, dict[str, str]]:
    """The form that holds the submit button labelled `label`: (its attributes, its fields with
    their values, the button's name=value included), as a browser would submit it."""

    class Forms(HTMLParser):
        def __init__(self):
            super().__init__()
            self.forms, self.current, self.button, self.field, self.text = [], None, None, None, ""
            self.feed(html)

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "form":
                self.current = (a, {}, [])
                self.forms.append(self.current)
            elif self.current and tag in ("input", "textarea") and a.get("name"):
                self.current[1][a["name"]] = a.get("value") or ""
                self.field = a["name"] if tag == "textarea" else None
            elif self.current and tag == "button":
                self.button, self.text = a, ""

        def handle_data(self, data):
            if self.field:
                self.current[1][self.field] += data
            if self.button is not None:
                self.text += data

        def handle_endtag(self, tag):
            if tag == "textarea":
                self.field = None
            elif tag == "button" and self.button is not None:
                self.current[2].append((self.text.strip(), self.button))
                self.button = None

    for attrs, fields, buttons in Forms().forms:
        for text, button in buttons:
            if text == label:
                return attrs, {**fields, **({button["name"]: button.get("value", "")} if button.get("name") else {})}
    raise AssertionError(f"no form with a {label!r} button")


def test_create_a_silence_from_the_event_page_without_a_second_preview(open_server):
    """The event page's "Silence events like this" opens the form; author and comment typed into it
    go with Create (they used to be dropped unless Preview was pressed again)."""
    post_alert(open_server, alert(5, rule="cpu-high", resource="vm-5", severity="Sev3"))
    s = requests.Session()
    eid = event_id_of(open_server, "cpu-high")
    event = s.get(open_server.url + "/event", params={"id": eid}, timeout=10)
    attrs, fields = form_with_button(event.text, "Silence events like this for 1 h…")
    opened = s.request(attrs["method"], open_server.url + attrs["action"], params=fields, timeout=10)
    assert opened.status_code == 200 and "Fired: cpu-high on vm-5" in opened.text
    attrs, fields = form_with_button(opened.text, "Create silence")
    assert attrs["method"] == "post" and fields["matchers"] == "alert_rule=cpu-high\nresource=vm-5"
    refused = s.post(open_server.url + attrs["action"], data={**fields, "author": "", "comment": "known, fixing"},
                     timeout=10)
    assert refused.status_code == 400 and "a silence needs an author and a comment" in refused.text
    assert open_server.app.store.state_list("silence") == []
    _, kept = form_with_button(refused.text, "Create silence")  # what was typed is still in the form
    assert (kept["matchers"], kept["duration"], kept["comment"]) == (fields["matchers"], "1h", "known, fixing")
    created = s.post(open_server.url + attrs["action"], data={**kept, "author": "ana"}, allow_redirects=False,
                     timeout=10)
    assert created.status_code == 303 and created.headers["Location"].startswith("/silences?created=s_")
    [(sid, doc, _)] = open_server.app.store.state_list("silence")
    assert (doc["created_by"], doc["comment"]) == ("ana", "known, fixing")
    listed = s.get(open_server.url + created.headers["Location"], timeout=10)
    assert f'<tr id="{sid}" class="silence-active">' in listed.text and "known, fixing" in listed.text
    # Preview posts the same form and changes nothing
    _, again = form_with_button(listed.text, "Preview: what would it silence?")
    shown = s.post(open_server.url + "/silences", data={**again, "matchers": "resource=vm-5", "comment": "x"}, timeout=10)
    assert shown.status_code == 200 and "Open alerts it would silence now" in shown.text
    assert "Fired: cpu-high on vm-5" in shown.text and len(open_server.app.store.state_list("silence")) == 1


def test_reads_and_changes_need_the_key_when_reads_are_not_open(keyed_server):
    post_alert(keyed_server, alert(7, severity="Sev3"), key=OPERATOR_KEY)
    s = requests.Session()
    for path in ["/", "/silences", "/outbox", "/routing", "/status", "/event?id=x"]:
        r = s.get(keyed_server.url + path, timeout=10)
        assert r.status_code == 401 and "Operator key" in r.text, path
        assert_safe_page(r)
    assert s.get(keyed_server.url + "/", headers={"x-functions-key": OPERATOR_KEY}, timeout=10).status_code == 200
    assert s.get(keyed_server.url + "/", headers={"x-functions-key": "wrong"}, timeout=10).status_code == 401
    # Easy Auth headers are not trusted unless the console is told it is behind App Service authentication
    assert s.get(keyed_server.url + "/", headers={"X-MS-CLIENT-PRINCIPAL-NAME": "eve@contoso.com"},
                 timeout=10).status_code == 401
    login = s.get(keyed_server.url + "/login?next=/outbox", timeout=10)
    token = csrf_of(login.text)
    change = s.post(keyed_server.url + "/silences", data={"csrf": token, "matchers": "resource=vm-7", "author": "a",
                                                          "comment": "c"}, timeout=10)
    assert change.status_code == 401 and keyed_server.app.store.state_list("silence") == []
    wrong = s.post(keyed_server.url + "/login", data={"csrf": token, "key": "nope", "next": "/outbox"}, timeout=10)
    assert wrong.status_code == 401 and "not the operator key" in wrong.text and "nope" not in wrong.text
    ok = s.post(keyed_server.url + "/login", data={"csrf": token, "key": OPERATOR_KEY, "name": "ana",
                                                   "next": "/outbox"}, allow_redirects=False, timeout=10)
    assert ok.status_code == 303 and ok.headers["Location"] == "/outbox"
    assert "HttpOnly" in ok.headers["Set-Cookie"] and "SameSite=Strict" in ok.headers["Set-Cookie"]
    assert OPERATOR_KEY not in ok.headers["Set-Cookie"]
    page = s.get(keyed_server.url + "/outbox", timeout=10)
    assert page.status_code == 200 and "ana (operator key)" in page.text
    created = s.post(keyed_server.url + "/silences", data={"csrf": csrf_of(page.text), "matchers": "resource=vm-7",
                                                           "author": "ana", "comment": "c"}, timeout=10)
    assert created.status_code == 200 and len(keyed_server.app.store.state_list("silence")) == 1
    offsite = s.post(keyed_server.url + "/login", data={"csrf": csrf_of(page.text), "key": OPERATOR_KEY,
                                                        "next": "//evil.example/"}, allow_redirects=False, timeout=10)
    assert offsite.headers["Location"] == "/"


@pytest.mark.parametrize("role_required, roles, allowed", [("", [], True), ("Console.Operator", ["Console.Operator"], True),
                                                           ("Console.Operator", ["Reader"], False)])
def test_easy_auth_identity_when_enabled(console_env, role_required, roles, allowed):
    import base64
    import json

    from alertrouter.http.auth import Authenticator
    from alertrouter.console import build_console
    from alertrouter.settings import ConsoleSettings
    from tests.conftest import RunningServer

    class S:
        console = ConsoleSettings(easy_auth=True, easy_auth_role=role_required)
        api_key = ""
        ack_secret = ""

    auth = Authenticator(entra=None)
    auth_key = Authenticator.__new__(Authenticator)  # Entra-only in Azure: no key, yet not open
    auth_key.key, auth_key.entra, auth_key.sources = None, object(), auth.sources
    console = build_console(console_env, auth_key, settings=S, open_reads=False)
    principal = base64.b64encode(json.dumps({"auth_typ": "aad", "claims": [{"typ": "roles", "val": r} for r in roles]})
                                 .encode()).decode()
    with RunningServer(console_env, console=console) as server:
        r = requests.get(server.url + "/status", headers={"X-MS-CLIENT-PRINCIPAL-NAME": "ana@contoso.com",
                                                          "X-MS-CLIENT-PRINCIPAL": principal}, timeout=10)
        assert (r.status_code == 200) is allowed
        if allowed:
            assert "ana@contoso.com" in r.text


def test_status_names_each_channels_last_success_and_failure(open_server, receiver):
    post_alert(open_server, alert(8, severity="Sev3"))  # Teams: 202
    post_alert(open_server, alert(9, severity="Sev1"))  # the pager hook: 500, dead at once
    store = open_server.app.store
    wait_until(lambda: store.counts()["sent"] >= 1 and store.counts()["dead"] >= 1, what="one sent, one dead")
    page = requests.get(open_server.url + "/status", timeout=10).text
    rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr><td>([a-z-]+)</td>.*?</tr>", page, re.S)}
    assert set(rows) == {"ops-teams", "pager-hook", "mail", "log"}
    assert "never" not in rows["ops-teams"].split("</td>")[3] and "HTTP 500" in rows["pager-hook"]
    assert "alertrouter 0.1.0" in page and "sqlite" in page and "pending" in page
    assert "127.0.0.1:%d" % receiver.port not in page


def test_routing_tree_and_the_payload_box(open_server):
    import json

    from tests.conftest import load_fixture

    s = requests.Session()
    page = s.get(open_server.url + "/routing", timeout=10)
    tree = page.text.split('<ol class="tree">')[1].split("</ol>")[0]
    assert [m for m in re.findall(r"<strong>([a-z-]+)</strong>", tree)] == [
        "pages", "on-call", "runs", "data-scientist", "default", "data-scientist"]
    assert "kind=alert.fired, severity at_least error" in tree
    tried = s.post(open_server.url + "/routing/try", data={"csrf": csrf_of(page.text), "payload": json.dumps(
        load_fixture("aml-runstatuschanged-failed.eventgrid.json"))}, timeout=10)
    assert tried.status_code == 200
    result = tried.text.split('<article class="tried">')[1]
    assert "runs: match" in result and "pages: no match" in result
    assert 'class="card-preview" data-card="' in result and "automl-local-regression" in result
    assert open_server.app.store.counts()["events"] == 0  # nothing was taken in
    bad = s.post(open_server.url + "/routing/try", data={"csrf": csrf_of(page.text), "payload": "{oops"}, timeout=10)
    assert bad.status_code == 400 and "malformed JSON" in bad.text


GROUPED_CONFIG = """
version: 1
channels:
  hook: {type: webhook, url: "http://127.0.0.1:9/hook"}
roles:
  on-call: {channels: [hook]}
  lead: {channels: [hook]}
routes:
  - name: pages
    match: {severity: {at_least: error}}
    roles: [on-call]
    group_by: [alert_rule]
    group_wait: 45s
    group_interval: 90m
    repeat_interval: 1d
    escalate: {after: 15m, to: [lead]}
  - name: slow
    match: {kind: alert.fired}
    roles: [lead]
    group_by: []
    repeat_interval: 2w
"""


def test_routing_page_shows_durations_as_written(tmp_path):
    from alertrouter.app import App
    from alertrouter.config.load import loads
    from tests.conftest import RunningServer

    app = App(loads(GROUPED_CONFIG, str(tmp_path / "routing.yaml")), tmp_path / "data")
    with RunningServer(app) as server:
        page = requests.get(server.url + "/routing", timeout=10)
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
    assert "grouped by alert_rule; wait 45s, interval 90m, repeat 1d" in text
    assert "escalates to lead after 15m unacknowledged" in text
    assert "grouped by nothing (one group); wait 30s, interval 5m, repeat 2w" in text  # the defaults too
    assert not re.search(r"\d s\b", text), "a duration in seconds is left"


def outbox_tab(server) -> str:
    page = requests.get(server.url + "/outbox", timeout=10)
    assert page.status_code == 200
    return re.search(r'aria-current="page">([a-z]+) \(', page.text).group(1)


def test_outbox_opens_on_the_tab_that_needs_attention(open_server, receiver):
    """Dead if any, else pending or held if any, else sent; never an empty tab when another has rows."""
    store = open_server.app.store
    assert outbox_tab(open_server) == "sent"  # nothing anywhere: the record of what went out
    post_run_failed(open_server)  # the data scientists' Teams (202) and mail (SMTP refused: retried, pending)
    wait_until(lambda: store.counts()["sent"] >= 1 and store.counts()["pending"] >= 1,
               what="Teams sent and the mail pending")
    assert outbox_tab(open_server) == "pending"
    receiver.expect_request("/pager").respond_with_data("no", status=500)
    post_alert(open_server, alert(3, rule="disk-full", severity="Sev1"))
    wait_until(lambda: store.counts()["dead"] == 1, what="the page to die (the receiver answers 500)")
    assert outbox_tab(open_server) == "dead"
    assert "No dead notification" not in requests.get(open_server.url + "/outbox", timeout=10).text
    assert requests.get(open_server.url + "/outbox?status=sent", timeout=10).text.count('aria-current="page">sent') == 1


def test_a_dead_notification_shows_what_the_receiver_answered(open_server, receiver):
    """The pager webhook answers 400 with a body that echoes its URL (with `sig=`): the attempt keeps
    the status and the answer's first bytes, masked, on the trail, in the outbox and in `outbox show`."""
    from click.testing import CliRunner
    from werkzeug import Response

    from alertrouter.cli.main import main

    receiver.expect_request("/pager").respond_with_handler(lambda req: Response(
        f'{{"error": "field data.labels is not allowed", "posted_to": "{req.url}"}}\n', status=400))
    post_alert(open_server, alert(3, rule="disk-full", severity="Sev1"))
    store = open_server.app.store
    wait_until(lambda: store.counts()["dead"] == 1, what="the page to die (the receiver answers 400)")
    [dead] = store.list("dead", limit=5)
    secret = SECRET_QUERY.split("=")[1]
    shown = ('webhook pager-hook: HTTP 400: {"error": "field data.labels is not allowed", "posted_to": '
             '"&lt;redacted&gt;"}')  # the channel's URL is one of its secrets: masked whole
    trail = requests.get(open_server.url + "/event", params={"id": dead.event_id}, timeout=10).text
    attempts = trail.split('<table class="list attempts">')[1].split("</table>")[0]
    assert shown.replace('"', "&#34;") in attempts and secret not in trail
    outbox = requests.get(open_server.url + "/outbox", timeout=10).text
    assert shown.replace('"', "&#34;") in outbox and secret not in outbox
    cli = CliRunner().invoke(main, ["outbox", "show", dead.id, "--data-dir", str(open_server.app.data_dir)],
                             env={"ALERTROUTER_STORE": "sqlite"})
    assert cli.exit_code == 0, cli.output
    assert shown.replace("&lt;redacted&gt;", "<redacted>") in cli.stdout and secret not in cli.stdout
