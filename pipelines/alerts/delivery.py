"""Delivery: waiting entries -> one message per search -> the SMTP server, recorded before and after.

Each run:
1. Reconcile: a message still `sending` was handed to the server by a process that died before recording the
   answer. It is counted as sent and not sent again: it was recorded just before its DATA went out, so the
   only way it was not delivered is a death in the milliseconds the server takes to answer that DATA, while
   sending it again would duplicate every message of a death after the answer. Its Message-ID is derived from
   its entries, so a receiver would drop a second copy anyway; the log line names it.
2. Due entries: all waiting ones for `immediate` searches; for `daily` and `weekly`, those found before the
   current window opened (`alerts.digest_hour_utc`, `alerts.weekly_day`). All of a search's due entries go in
   ONE message, however long they waited (an outage of three runs gives one message, not three).
3. Send, at most `alerts.max_messages_per_run`, over one connection: MAIL and RCPT, then the record
   (`sending`, entries bound to the Message-ID), then DATA, then the record `sent`. Fault points
   `alerts.before_send` (before the first record) and `alerts.after_send` (between the server's answer and the
   second record) let the fault tests kill the process exactly there.
A server that is down or refuses leaves the entries waiting: one log line per run (per message when only
that message is refused), and they go out on a later run. The password is never logged or put in an error.
"""

from __future__ import annotations

import email.policy
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from loguru import logger

from pipelines import faultpoints
from pipelines.alerts.ledger import AlertsDb, Entry
from pipelines.alerts.messages import Composed, compose
from pipelines.alerts.saved_searches import SavedSearch
from pipelines.settings import AlertSettings, MailSettings

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LOOPBACK = ("localhost", "127.0.0.1", "::1")


class MailError(Exception):
    """The SMTP server could not be reached or refused; the message never holds the password."""


@dataclass
class Delivery:
    sent: list[Composed] = field(default_factory=list)
    waiting_entries: int = 0
    held_back: int = 0  # messages over the per-run cap
    reconciled: int = 0
    error: str | None = None


def window_start(every: str, now: datetime, alerts: AlertSettings) -> datetime:
    """When the digest window open at `now` began (daily: the last digest hour; weekly: that hour on the
    last `weekly_day`); `now` itself for immediate searches."""
    if every == "immediate":
        return now
    start = now.replace(hour=alerts.digest_hour_utc, minute=0, second=0, microsecond=0)
    if start > now:
        start -= timedelta(days=1)
    if every == "weekly":
        start -= timedelta(days=(start.weekday() - WEEKDAYS.index(alerts.weekly_day)) % 7)
    return start


def due_messages(db: AlertsDb, searches: list[SavedSearch], mail: MailSettings, alerts: AlertSettings,
                 now: datetime) -> tuple[list[Composed], int]:
    """One composed message per search with due entries, oldest first; and the number of entries that wait
    for their digest window to close."""
    waiting: dict[str, list[Entry]] = {}
    for entry in db.waiting():
        waiting.setdefault(entry.search, []).append(entry)
    messages, not_due = [], 0
    for search in searches:
        entries = waiting.get(search.name, [])
        opened = window_start(search.every, now, alerts)
        due = entries if search.every == "immediate" else [e for e in entries if e.created_at < opened]
        not_due += len(entries) - len(due)
        if due:
            period = None if search.every == "immediate" else (window_start(search.every, due[0].created_at, alerts), opened)
            messages.append((due[0].created_at, compose(search, due, mail, alerts, now, period)))
    messages.sort(key=lambda pair: pair[0])
    return [m for _, m in messages], not_due


def deliver(db: AlertsDb, searches: list[SavedSearch], mail: MailSettings, alerts: AlertSettings, now: datetime) -> Delivery:
    result = Delivery(reconciled=_reconcile(db, now))
    messages, _ = due_messages(db, searches, mail, alerts, now)
    if len(messages) > alerts.max_messages_per_run:
        result.held_back = len(messages) - alerts.max_messages_per_run
        logger.bind(source="alerts").warning("{} message(s) wait for the next run (alerts.max_messages_per_run={})",
                                             result.held_back, alerts.max_messages_per_run)
        messages = messages[: alerts.max_messages_per_run]
    if messages:
        try:
            with SmtpConnection(mail) as smtp:
                for composed in messages:
                    if _send_one(db, smtp, composed, mail):
                        result.sent.append(composed)
        except MailError as exc:
            result.error = str(exc)
    result.waiting_entries = len(db.waiting())
    if result.error:
        searches_waiting = len({e.search for e in db.waiting()})
        logger.bind(source="alerts").error("mail not sent: {}; {} entr{} of {} search(es) wait for the next run",
                                           result.error, result.waiting_entries,
                                           "y" if result.waiting_entries == 1 else "ies", searches_waiting)
    return result


def _send_one(db: AlertsDb, smtp: SmtpConnection, composed: Composed, mail: MailSettings) -> bool:
    """Hand one message over with its two records; False (entries wait) when the server refuses it."""
    log = logger.bind(source="alerts")
    faultpoints.reached("alerts.before_send")
    try:
        accepted = smtp.envelope(mail.sender, composed.recipients)
    except MailError as exc:
        if smtp.broken:
            raise  # the connection is gone: one line for the run, not one per message
        log.error("message for {} not sent: {}; its entries wait for the next run", composed.search, exc)
        return False
    db.handing_over(composed.message_id, composed.search, accepted, composed.subject, composed.entry_ids, _now())
    try:
        smtp.data(composed.message.as_bytes(policy=email.policy.SMTP))
    except MailError as exc:
        db.not_sent(composed.message_id)
        if smtp.broken:
            raise
        log.error("message for {} refused: {}; its entries wait for the next run", composed.search, exc)
        return False
    faultpoints.reached("alerts.after_send")
    db.sent(composed.message_id, _now())
    log.info("sent {} to {}: {}", composed.message_id, ", ".join(accepted), composed.subject)
    return True


def _reconcile(db: AlertsDb, now: datetime) -> int:
    rows = db.interrupted()
    for row in rows:
        db.reconcile(row["id"], now)
        logger.bind(source="alerts").warning(
            "message {} for {} was handed to the server by a run that was killed before recording the answer; "
            "counted as sent, not sent again", row["id"], row["search"])
    return len(rows)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class SmtpConnection:
    """One SMTP session with the `mail` settings: STARTTLS (required) unless tls says ssl or none."""

    def __init__(self, mail: MailSettings) -> None:
        self.mail = mail
        self.where = f"{mail.host}:{mail.port}"
        self.smtp: smtplib.SMTP | None = None
        self.broken = False

    def __enter__(self) -> SmtpConnection:
        mail = self.mail
        if mail.tls == "none" and mail.username and mail.host not in LOOPBACK:
            raise MailError(f"{self.where}: mail.tls=none would send the password in clear to another host; "
                            "use starttls or ssl")
        try:
            context = ssl.create_default_context(cafile=str(mail.ca_certs) if mail.ca_certs else None)
            if mail.tls == "ssl":
                self.smtp = smtplib.SMTP_SSL(mail.host, mail.port, timeout=mail.timeout_s, context=context)
            else:
                self.smtp = smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout_s)
            self.smtp.ehlo()
            if mail.tls == "starttls":
                if not self.smtp.has_extn("starttls"):
                    raise MailError(f"{self.where} does not offer STARTTLS (set mail.tls=none only for a relay on "
                                    "this machine)")
                self.smtp.starttls(context=context)
                self.smtp.ehlo()
            if mail.username:
                self.smtp.login(mail.username, mail.password.get_secret_value() if mail.password else "")
        except MailError:
            self._close()
            raise
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            self._close()
            raise MailError(f"{self.where}: {self._reason(exc)}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.smtp is not None and not self.broken:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
        self._close()

    def envelope(self, sender: str, recipients: list[str]) -> list[str]:
        """MAIL FROM and RCPT TO; the recipients the server accepted (MailError when none)."""
        smtp = self._open()
        try:
            code, answer = smtp.mail(sender)
            if code != 250:
                smtp.rset()
                raise MailError(f"{self.where} refused sender {sender}: {code} {_text(answer)}")
            accepted, refused = [], []
            for recipient in recipients:
                code, answer = smtp.rcpt(recipient)
                if code in (250, 251):
                    accepted.append(recipient)
                else:
                    refused.append(f"{recipient} ({code} {_text(answer)})")
            if refused:
                logger.bind(source="alerts").error("{} refused recipient(s): {}", self.where, ", ".join(refused))
            if not accepted:
                smtp.rset()
                raise MailError(f"{self.where} refused every recipient")
            return accepted
        except (smtplib.SMTPException, OSError) as exc:
            self.broken = isinstance(exc, (OSError, smtplib.SMTPServerDisconnected))
            raise MailError(f"{self.where}: {self._reason(exc)}") from None

    def data(self, body: bytes) -> None:
        smtp = self._open()
        try:
            code, answer = smtp.data(body)
        except (smtplib.SMTPException, OSError) as exc:
            self.broken = isinstance(exc, (OSError, smtplib.SMTPServerDisconnected))
            raise MailError(f"{self.where}: {self._reason(exc)}") from None
        if code != 250:
            raise MailError(f"{self.where} refused the message: {code} {_text(answer)}")

    def _open(self) -> smtplib.SMTP:
        if self.smtp is None or self.broken:
            raise MailError(f"{self.where}: connection lost")
        return self.smtp

    def _close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.close()
            except OSError:
                pass

    def _reason(self, exc: BaseException) -> str:
        """One line about `exc`, with the password blanked should a server ever echo it."""
        if isinstance(exc, smtplib.SMTPResponseException):
            reason = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        elif isinstance(exc, socket.timeout):
            reason = f"no answer within {self.mail.timeout_s:g} s"
        elif isinstance(exc, OSError) and exc.strerror:
            reason = exc.strerror
        else:
            reason = str(exc) or type(exc).__name__
        password = self.mail.password.get_secret_value() if self.mail.password else ""
        return reason.replace(password, "***") if password else reason


def _text(answer: bytes | str) -> str:
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
    return " ".join(text.split())
