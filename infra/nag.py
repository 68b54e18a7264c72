"""cdk-nag 3 wiring: the AwsSolutions pack runs as a CDK policy-validation plugin (`Validations`),
and a finding is acknowledged on the construct it concerns, always with a reason.

Every acknowledgment made through `acknowledge` is also recorded in `ACKNOWLEDGED` so that the test
suite and `make synth` can list them (rule, construct path, reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, App, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


@dataclass(frozen=True)
class Suppression:
    rule: str
    path: str
    reason: str


ACKNOWLEDGED: list[Suppression] = []
# False only in the test that proves every acknowledgment is still needed (it synthesizes without them).
APPLY_ACKNOWLEDGMENTS = True


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    if len(reason.strip()) < 20:
        raise ValueError(f"a suppression of {rule} needs a real reason, not {reason!r}")
    if APPLY_ACKNOWLEDGMENTS:
        Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))
    ACKNOWLEDGED.append(Suppression(rule=rule, path=construct.node.path, reason=reason))


def finding_text(scope: IConstruct, value: str) -> str:
    """How cdk-nag spells a (possibly tokenized) IAM resource in a finding id: references become
    `<LogicalId.Attr>` / `<LogicalId>`, cross-stack imports their export name."""
    resolved = Stack.of(scope).resolve(value)

    def render(node: Any) -> str:
        if isinstance(node, str):
            return node
        if isinstance(node, dict) and len(node) == 1:
            [(function, argument)] = node.items()
            if function == "Fn::Join":
                separator, parts = argument
                return separator.join(render(part) for part in parts)
            if function == "Fn::GetAtt":
                return f"<{argument[0]}.{argument[1]}>"
            if function == "Ref":
                return f"<{argument}>"
            if function == "Fn::ImportValue":
                return render(argument)
        raise ValueError(f"cannot render {node!r} as a cdk-nag finding")

    return render(resolved)


def enable_nag(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
