"""The small HTML pages behind an approval link: the plan with Approve/Reject (GET), the outcome (POST).

Every value is escaped; the page loads nothing and posts only to itself (see the CSP header).
"""
from __future__ import annotations

from html import escape

from ..domain.incident import Incident
from ..domain.plan import Plan
from ..reports.approval_brief import approval_brief

HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_STYLE = ("body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}"
          "code{background:#f3f3f3;padding:0 .2rem}button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.6rem}"
          ".approve{background:#1a7f37;color:#fff;border:0}.reject{background:#cf222e;color:#fff;border:0}")


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=robots content=noindex>"
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>")


def plan_page(incident: Incident | None, plan: Plan, decision: str, expires_at: str) -> str:
    """The plan and the one button of this link (its signed decision): the approve link cannot reject, and the
    other way round."""
    brief = approval_brief(plan, incident.triage if incident else None)
    t = brief["target"]
    steps = "".join(f"<li><code>{escape(s.api_call)}</code><br>{escape(s.description)}</li>" for s in plan.steps)

    def items(values: list[str]) -> str:
        return "".join(f"<li>{escape(v)}</li>" for v in values)

    button = ('<button class=approve type=submit name=decision value=approve>Approve and apply</button>'
              if decision == "approve" else
              '<button class=reject type=submit name=decision value=reject>Reject</button>')
    other = "reject" if decision == "approve" else "approve"
    body = (
        f"<h1>{escape(plan.title)}</h1>"
        f"<p><b>Service:</b> {escape(t['cluster'])}/{escape(t['service'])} · <b>Account:</b> "
        f"{escape(t['account'])} · <b>Region:</b> {escape(t['region'])} · <b>Incident:</b> "
        f"<code>{escape(plan.incident_id)}</code></p>"
        f"<p><b>Diagnosis:</b> {escape(brief['diagnosis'])}</p>"
        f"<p>{escape(plan.summary)}</p>"
        f"<h2>Changes (risk {escape(plan.risk)}, plan <code>{escape(plan.plan_hash)}</code>)</h2><ol>{steps}</ol>"
        + (f"<h2>It reverts or removes</h2><ul>{items(brief['reverts'])}</ul>" if brief["reverts"] else
           "<p>It reverts or removes nothing.</p>" if brief["calls"] else "")
        + (f"<h2>To undo</h2><ul>{items(brief['undo'])}</ul>" if brief["undo"] else "")
        + (f"<h2>A person must still</h2><ul>{items(brief['manual_steps'])}</ul>" if brief["manual_steps"] else "")
        + (f"<h2>Success criteria</h2><ul>{items(plan.success_criteria)}</ul>" if plan.success_criteria else "")
        + "<form method=post><p><label>Your name (recorded in the audit trail): "
          "<input name=name maxlength=80 autocomplete=name></label></p>"
        + button
        + f"</form><p><small>Nothing happens until you press the button. This link works once and expires at "
          f"{escape(expires_at)}. To {other} instead, use the other link of the email.</small></p>"
    )
    return _page(f"{decision.capitalize()}? {plan.title}", body)


def message_page(title: str, text: str) -> str:
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>")
