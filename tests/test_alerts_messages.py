"""Mail that a hostile page cannot break: a title with CR/LF, a forged Bcc: line and <script>, sent through a
real SMTP server, is escaped in the body and never reaches a header or the envelope."""

from __future__ import annotations

from email import message_from_bytes, policy

from pipelines.alerts.ledger import Entry
from pipelines.alerts.messages import compose
from pipelines.alerts.saved_searches import new_search
from pipelines.settings import AlertSettings, MailSettings

HOSTILE = "Aleppo falls\r\nBcc: victim@evil.example\r\nX-Injected: yes\n<script>alert('x')</script> & more"


def test_a_hostile_title_is_escaped_in_the_body_and_never_reaches_a_header(alert_world):
    world = alert_world
    world.smtp.start()
    world.story("evil", ["sputnik", "sott"], HOSTILE, text="Aleppo <b>bold</b> \r\nBcc: other@evil.example text.")
    world.add_search("aleppo", "Aleppo")
    world.run()

    [received] = world.smtp.received
    assert received.rcpt_tos == ["r@example.org"]  # the envelope: nobody else
    message = received.message
    assert message["Bcc"] is None and message["X-Injected"] is None
    raw_headers = received.content.split(b"\r\n\r\n", 1)[0].decode()
    assert not any(line.lower().startswith(("bcc:", "x-injected:", "cc:")) for line in raw_headers.split("\r\n"))
    subject = message["Subject"]
    assert "\n" not in subject and "\r" not in subject
    assert subject == "[storytrail] aleppo: Aleppo falls Bcc: victim@evil.example X-Injected: yes <script>alert('x')</script> & more"
    assert [k for k in message.keys() if k.lower() in ("bcc", "cc", "x-injected")] == []

    html = received.html
    assert "<script>" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    text = received.text
    assert "1. Aleppo falls Bcc: victim@evil.example X-Injected: yes <script>alert('x')</script> & more\n" in text
    assert "\nBcc:" not in text


def test_headers_are_set_through_the_email_api_and_the_message_id_follows_the_entries():
    search = new_search("aleppo", "Aleppo", "r@example.org")
    payload = {"headline": "A", "origin": {"url": "javascript:alert(1)", "outlet": "x", "title": "A", "published": None,
                                           "kind": "origin"},
               "copies": [{"url": "javascript:alert(1)", "outlet": "x", "title": "A", "published": None, "kind": "origin"}],
               "fresh": ["javascript:alert(1)"], "new_outlets": [], "snippet": []}
    from datetime import datetime, timezone

    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    entry = Entry("e1", "aleppo", "s", "new", now, payload)
    mail = MailSettings(sender="alerts@news.example")
    first = compose(search, [entry], mail, AlertSettings(), now)
    again = compose(search, [entry], mail, AlertSettings(), now)
    other = compose(search, [entry, Entry("e2", "aleppo", "t", "new", now, payload | {"headline": "B"})], mail, AlertSettings(), now)
    assert first.message_id == again.message_id != other.message_id
    assert first.message_id.endswith("@news.example>")
    parsed = message_from_bytes(first.message.as_bytes(policy=policy.SMTP), policy=policy.default)
    assert parsed["List-Unsubscribe"] == "<mailto:alerts@news.example?subject=unsubscribe%20aleppo>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    html = parsed.get_body(("html",)).get_content()
    assert 'href="javascript' not in html  # only http(s) URLs become links
