"""cdk-nag 3 wiring: the AwsSolutions pack runs as a CDK policy-validation plugin (`Validations`),
and a finding is acknowledged on the construct it concerns, always with a reason.

Every acknowledgment made through `acknowledge` is also recorded in `ACKNOWLEDGED` so that the test
suite and `make synth` can list them (rule, construct path, reason).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


@dataclass(frozen=True)
class Suppression:
    rule: str
    path: str
    reason: str


ACKNOWLEDGED: list[Suppression] = []


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    if len(reason.strip()) < 20:
        raise ValueError(f"a suppression of {rule} needs a real reason, not {reason!r}")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))
    ACKNOWLEDGED.append(Suppression(rule=rule, path=construct.node.path, reason=reason))


def enable_nag(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
