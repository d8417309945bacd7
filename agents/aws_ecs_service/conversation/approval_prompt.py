"""The chat's approval prompt: what it shows (the approval brief, the same one the email and the page show), which
answers decide, and the answers to questions asked at it.

Only an explicit yes or no decides ("y", "approve", "go ahead"; "no", "reject", "don't"). A question ("why?", "what
does it remove?") is answered from the plan and the findings (no model) and the prompt is asked again; so is an
answer that is neither.
"""
from __future__ import annotations

import re
from typing import Any, Literal

from ..domain.plan import Plan
from ..reports.approval_brief import approval_brief, brief_lines

ASK = "Approve this change? Answer yes or no (or ask: why? what does it remove? how do I undo it?)."
_YES = r"(?:yes|y|yeah|yep|approve[ds]?|ok(?:ay)?|sure|go ahead|do it|lgtm|apply(?: it)?|ship it)"
_NO = r"(?:no|n|nope|reject(?:ed)?|don'?t(?: do it)?|do not(?: do it)?|cancel|abort|stop)"
_APPROVE = re.compile(rf"^{_YES}(?:[\s,!.]+(?:please|{_YES}))*[\s!.]*$", re.I)
_REJECT = re.compile(rf"^{_NO}(?:[\s,!.]+(?:thanks|thank you|please|{_NO}))*[\s!.]*$", re.I)
# question topic -> the brief's fields that answer it, first match wins
_TOPICS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p, re.I), topic) for p, topic in (
    (r"\bundo|back out|go back|reverse", "undo"),
    (r"\b(remove|revert|lose|take away|withdraw|delete|what (?:will |does it )?change|effect|cost)", "reverts"),
    (r"\b(why|cause|reason|diagnos|sure|confiden|evidence)", "why"),
    (r"\b(risk|safe|danger|downtime|impact|how long|duration)", "risk"),
    (r"\b(where|which (?:account|region|cluster|service)|account|region|cluster|target)", "target"),
    (r"\b(call|api|command|exactly|run|what will you do|what do you do)", "calls"),
    (r"\b(manual|must|after|next|what else|then what|by hand|me do|person)", "manual"),
))


def payload(plan: Plan, findings: dict[str, Any] | None, request: dict[str, Any] | None = None,
            blocked: str | None = None) -> dict[str, Any]:
    """The interrupt value: the approval brief as data (`brief`) and as the text every prompt prints (`text`);
    `blocked` says why the guard will refuse the change even when approved (writes off, cluster not writable)."""
    asked = [f"You asked: {request['said']}"] if request and request.get("said") else []
    note = [f"Note: {blocked}; approving records the decision, and the policy guard will refuse the change."] if (
        blocked) else []
    return {
        "type": "approval", "incident_id": plan.incident_id, "plan_hash": plan.plan_hash, "title": plan.title,
        "summary": plan.summary, "risk": plan.risk, "steps": [s.api_call for s in plan.steps],
        "brief": approval_brief(plan, findings), "text": "\n".join([*asked, *brief_lines(plan, findings), *note]),
        "question": ASK + ' (API: resume with {"decision": "approve"} or {"decision": "reject"}.)'}


def decision_of(answer: Any) -> tuple[Literal["approved", "rejected"] | None, str, str]:
    """(approved | rejected | None when the answer decides nothing, who answered, the answer's words)."""
    if isinstance(answer, dict):
        words = str(answer.get("decision") or answer.get("question") or answer.get("message") or "")
        by = str(answer.get("by") or "chat user")
    else:
        words, by = str(answer or ""), "chat user"
    words = " ".join(words.split())
    if _APPROVE.match(words):
        return "approved", by, words
    if _REJECT.match(words):
        return "rejected", by, words
    return None, by, words


def reply_to(question: str, plan: Plan, findings: dict[str, Any] | None) -> str:
    """The answer to a question asked at the prompt, then the prompt again."""
    b = approval_brief(plan, findings)
    t = b["target"]
    topic = next((topic for pattern, topic in _TOPICS if pattern.search(question)), None)
    if topic == "why":
        lines = [f"Diagnosis: {b['diagnosis']}", f"Why this change: {plan.summary}"]
    elif topic == "reverts":
        lines = (["It reverts or removes:", *[f"  - {r}" for r in b["reverts"]]] if b["reverts"] else
                 [f"It removes nothing: {plan.summary}"])
    elif topic == "undo":
        lines = ["To undo:", *[f"  - {u}" for u in b["undo"]]] if b["undo"] else ["There is nothing to undo."]
    elif topic == "risk":
        minutes = f", about {max(1, plan.expected_duration_s // 60)} min until it is verified" if (
            plan.expected_duration_s) else ""
        lines = [f"Risk {b['risk']}{minutes}.", *[f"  Success means: {c}" for c in plan.success_criteria[:3]]]
    elif topic == "target":
        lines = [f"It changes {t['cluster']}/{t['service']} in account {t['account']}, region {t['region']} "
                 f"({t['service_arn']}) and nothing else."]
    elif topic == "calls":
        lines = ["Exactly these calls, through the policy guard:", *[f"  {c}" for c in b["calls"]]]
    elif topic == "manual":
        lines = (["A person must still:", *[f"  - {m}" for m in b["manual_steps"]]] if b["manual_steps"] else
                 ["Nothing more is needed from a person after it is verified."])
    elif question:
        lines = ["I need a yes or a no. Here is the plan again:", *brief_lines(plan, findings)]
    else:
        lines = ["I need a yes or a no."]
    return "\n".join([*lines, ASK])
