"""The small HTML pages behind an approval link: the plan with Approve/Reject (GET), the outcome (POST).

Every value is escaped; the page loads nothing and posts only to itself (see the CSP header).
"""
from __future__ import annotations

from html import escape

from ..operations.plan_model import Incident, Plan

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


def plan_page(incident: Incident | None, plan: Plan, suggested: str, expires_at: str) -> str:
    target = plan.target
    rc = ((incident.triage or {}).get("root_cause") or {}) if incident else {}
    steps = "".join(f"<li><code>{escape(s.api_call)}</code><br>{escape(s.description)}</li>" for s in plan.steps)
    criteria = "".join(f"<li>{escape(c)}</li>" for c in plan.success_criteria)
    first = "approve" if suggested == "approve" else "reject"
    buttons = {
        "approve": '<button class=approve type=submit name=decision value=approve>Approve and apply</button>',
        "reject": '<button class=reject type=submit name=decision value=reject>Reject</button>',
    }
    order = [buttons[first], buttons["reject" if first == "approve" else "approve"]]
    body = (
        f"<h1>{escape(plan.title)}</h1>"
        f"<p><b>Service:</b> {escape(target.get('cluster', '?'))}/{escape(target.get('service', '?'))} "
        f"({escape(target.get('region', '?'))}) · <b>Incident:</b> <code>{escape(plan.incident_id)}</code></p>"
        f"<p><b>Root cause:</b> {escape(str(rc.get('category', plan.root_cause)))} — {escape(str(rc.get('summary', '')))}</p>"
        f"<p>{escape(plan.summary)}</p>"
        f"<h2>Changes (risk {escape(plan.risk)}, plan <code>{escape(plan.plan_hash)}</code>)</h2><ol>{steps}</ol>"
        + (f"<h2>Success criteria</h2><ul>{criteria}</ul>" if criteria else "")
        + "<form method=post><p><label>Your name (recorded in the audit trail): "
          "<input name=name maxlength=80 autocomplete=name></label></p>"
        + "".join(order)
        + f"</form><p><small>Nothing happens until you press a button. This link works once and expires at "
          f"{escape(expires_at)}.</small></p>"
    )
    return _page(f"Approve? {plan.title}", body)


def message_page(title: str, text: str) -> str:
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>")
