"""cdk-nag AwsSolutions with zero unacknowledged findings, and cfn-lint with zero errors."""
from __future__ import annotations

import json
import subprocess
import sys

from aws_cdk.assertions import Annotations, Match

# CDK itself adds DependsOn next to GetAtt for roles (harmless, not ours to change).
ALLOWED_WARNINGS = {"W3005"}


def test_cdk_nag_aws_solutions_has_no_unsuppressed_findings(synth):
    annotations = Annotations.from_stack(synth.stack)
    pattern = Match.string_like_regexp("(AwsSolutions-|CdkNagValidationFailure).*")
    findings = [*annotations.find_error("*", pattern), *annotations.find_warning("*", pattern)]
    assert [f"{f.id}: {str(f.entry.data)[:160]}" for f in findings] == []


def test_every_suppression_says_why(resources):
    reasons = []
    for resource in resources.values():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            reasons.append((rule["id"], rule["reason"]))
            # IAM5 acknowledgements always name the exact findings they cover.
            if rule["id"] == "AwsSolutions-IAM5":
                assert rule.get("applies_to"), rule
    assert reasons
    assert all(len(reason) >= 40 for _, reason in reasons), [r for r in reasons if len(r[1]) < 40]


def test_cfn_lint_reports_no_errors(synth):
    done = subprocess.run([sys.executable, "-m", "cfnlint", "--format", "json", str(synth.path)],
                          capture_output=True, text=True, timeout=300)
    matches = json.loads(done.stdout or "[]")
    problems = [(m["Rule"]["Id"], m["Message"]) for m in matches if m["Rule"]["Id"] not in ALLOWED_WARNINGS]
    assert problems == []
    assert not [m for m in matches if m["Level"] == "Error"]
