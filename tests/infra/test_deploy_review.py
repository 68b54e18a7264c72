"""Issue 22 (deploy review, round two): what an engineer deploying the templates would hit, held to the
templates and the files a deploy reads. Each test names the finding it holds; each failed on the
templates before its fix."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_rds as rds

from infra.config import load_environment
from infra.data import POSTGRES_VERSION
from infra.functions import CATALOG, spec
from shared.db.timeouts import STATEMENT_TIMEOUT_MS
from tests.fixtures.infra import ROOT, cdk_context

pytestmark = pytest.mark.xdist_group("infra")

ENVIRONMENTS = ("dev", "prod")


def _functions(synth: Any) -> dict[str, dict[str, Any]]:
    """The deployed functions' properties, by catalog name."""
    by_description = {item.description: item.name for item in CATALOG}
    return {
        by_description[props["Description"]]: props
        for resource in synth.resources("AWS::Lambda::Function", stack="Service").values()
        if (props := resource["Properties"]).get("Description") in by_description
    }


# ---------------------------------------------------------------- finding 3: the engine version


def _listed_minors(major: str) -> list[int]:
    """The minor versions of `major` aws-cdk-lib lists (PostgresEngineVersion.VER_<major>_<minor>)."""
    pattern = re.compile(rf"^VER_{major}_(\d+)$")
    return [int(m.group(1)) for name in dir(rds.PostgresEngineVersion) if (m := pattern.match(name))]


def test_given_the_pinned_postgres_then_it_is_at_most_two_minors_behind_the_newest_the_library_lists():
    # Given the engine version the database is created with
    major, minor = POSTGRES_VERSION.postgres_full_version.split(".")
    listed = _listed_minors(major)
    # Then the installed aws-cdk-lib lists it, and no more than two newer minors of its major: RDS stops
    # creating instances on old minors, so a pin that ages breaks a fresh deploy (bump it: README)
    assert int(minor) in listed
    assert max(listed) - int(minor) <= 2, (
        f"PostgreSQL {major}.{minor} pinned; the library lists {major}.{max(listed)}"
    )


def test_given_the_pinned_postgres_then_its_major_is_the_embedded_servers_of_the_local_stack():
    # Given the PostgreSQL the local stack and the tests run (the pgserver wheel)
    location = importlib.util.find_spec("pgserver")
    assert location is not None and location.submodule_search_locations
    pg_config = Path(next(iter(location.submodule_search_locations))) / "pginstall" / "bin" / "pg_config"
    version = subprocess.run([str(pg_config), "--version"], capture_output=True, text=True, check=True).stdout
    # Then RDS runs the same major: what passes here runs there
    assert version.split()[1].split(".")[0] == POSTGRES_VERSION.postgres_major_version, version


def test_given_the_synthesized_database_then_it_runs_the_pinned_version_and_may_upgrade_its_major(dev_synth):
    [instance] = dev_synth.resources("AWS::RDS::DBInstance").values()
    assert instance["Properties"]["EngineVersion"] == POSTGRES_VERSION.postgres_full_version
    assert instance["Properties"]["AllowMajorVersionUpgrade"] is True
    [group] = dev_synth.resources("AWS::RDS::DBParameterGroup").values()
    assert group["Properties"]["Family"] == f"postgres{POSTGRES_VERSION.postgres_major_version}"


# ---------------------------------------------------------------- finding 4: sizes and statement timeouts


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_given_the_catalog_then_every_function_is_sized_in_the_one_table(env_name):
    # Given an environment's configuration
    config = load_environment(cdk_context()["environments"], env_name)
    # Then every function of the catalog has a row (memory and timeout), and the table names no other
    assert set(config.functions) == {item.name for item in CATALOG}
    with pytest.raises(ValueError, match="has no size"):
        config.sizing("not_a_function")


@pytest.mark.parametrize("synth_name", ["dev_synth", "prod_synth"])
def test_given_each_function_then_its_database_statement_timeout_is_shorter_than_its_lambda_timeout(
    synth_name, request
):
    # Given an environment's deployed functions and the statement timeout each runs its SQL under
    synth = request.getfixturevalue(synth_name)
    functions = _functions(synth)
    assert {"model_ops", "refresh_views", "retention", "score"} <= set(functions)
    late = {}
    for name, props in functions.items():
        item = spec(name)
        if not item.database:
            continue
        # the request path (through RDS Proxy) runs under the server default; jobs set their own
        through_proxy = item.kind in {"api", "queue"}
        statement_ms = (
            synth.config.database.statement_timeout_ms if through_proxy else STATEMENT_TIMEOUT_MS.get(name)
        )
        assert statement_ms is not None, f"{name} opens database sessions but has no statement timeout"
        # Then no statement outlives the function (Lambda would cut it mid-transaction, unreported)
        if statement_ms >= props["Timeout"] * 1000:
            late[name] = (statement_ms, props["Timeout"])
    assert not late, f"statement timeout (ms) >= Lambda timeout (s): {late}"


def _statement_timeouts(path: Path) -> list[tuple[int, str]]:
    """Every `statement_timeout_ms=...` keyword in a module: (line, the value's source)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        (node.value.lineno, ast.unparse(node.value))
        for node in ast.walk(tree)
        if isinstance(node, ast.keyword) and node.arg == "statement_timeout_ms"
    ]


def test_given_the_code_then_every_statement_timeout_it_sets_comes_from_the_one_table():
    # Given every module of the functions and the domain package
    allowed = re.compile(r"^STATEMENT_TIMEOUT_MS\[['\"]([a-z_]+)['\"]\]$")
    found = []
    for path in sorted([*(ROOT / "shared").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]):
        for line, value in _statement_timeouts(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            # Then each is the table's (which the test above holds below the function's timeout), the
            # request path's setting, or 0 (no limit: the simulator's bulk load, run by hand)
            match = allowed.match(value)
            if match:
                assert match.group(1) in STATEMENT_TIMEOUT_MS, where
            elif value not in {"0", "Settings().db_statement_timeout_ms", "settings.db_statement_timeout_ms"}:
                found.append(f"{where}: {value}")
    assert not found, f"statement timeouts outside shared/db/timeouts.py: {found}"


# ---------------------------------------------------------------- finding 7: the API Gateway account setting


def test_given_dev_and_prod_in_one_account_then_one_environment_makes_the_api_gateway_logging_role(
    dev_synth, prod_synth
):
    # Given both environments (cdk.json may put them in one account)
    flags = {
        name: env.get("api_gateway_account_role", False)
        for name, env in cdk_context()["environments"].items()
    }
    assert list(flags.values()).count(True) == 1, flags
    accounts = {
        synth.config.name: synth.resources("AWS::ApiGateway::Account") for synth in (dev_synth, prod_synth)
    }
    # Then only the flagged environment sets the account's API Gateway CloudWatch role...
    assert {name for name, found in accounts.items() if found} == {n for n, on in flags.items() if on}
    for name, found in accounts.items():
        synth = dev_synth if name == "dev" else prod_synth
        roles = [
            r
            for r in synth.resources("AWS::IAM::Role", stack="Service").values()
            if "AmazonAPIGatewayPushToCloudWatchLogs" in json.dumps(r)
        ]
        assert len(roles) == len(found)
        # ...and keeps both when its stack is deleted, so that the other's execution logging goes on
        for resource in [*found.values(), *roles]:
            assert resource.get("DeletionPolicy") == "Retain", name


# ---------------------------------------------------------------- finding 8: what a deploy needs


def test_given_the_node_tools_then_node_22_or_later_is_required_and_documented():
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    # Then package.json and its lock ask for Node 22+ (the pinned CDK CLI supports 22 and 24)...
    assert package["engines"]["node"] == ">=22"
    assert lock["packages"][""]["engines"] == package["engines"]
    readme, deploy = (ROOT / "README.md").read_text(), (ROOT / "docs" / "deploy.md").read_text()
    assert "Node 20" not in readme + deploy and "Node 22+" in readme
    # ...and the deploy page says what else a deploy needs: the default bootstrap (the retraining build
    # reads its source from the bootstrap bucket), the concurrency quota, the dev audit bucket's lock
    for needed in ("cdk bootstrap", "L-B99A9384", "Object Lock", "api_gateway_account_role"):
        assert needed in deploy, needed


# ---------------------------------------------------------------- finding 6: stacks that can be updated


def _imports(value: Any) -> list[str]:
    """The export names a template's `Fn::ImportValue`s read."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Fn::ImportValue":
                found.append(inner if isinstance(inner, str) else json.dumps(inner))
            else:
                found += _imports(inner)
    elif isinstance(value, list):
        for inner in value:
            found += _imports(inner)
    return found


@pytest.mark.parametrize("synth_name", ["dev_synth", "prod_synth"])
def test_given_the_monitoring_stack_then_it_imports_no_export_another_stack_could_need_to_replace(
    synth_name, request
):
    # Given the monitoring stack, deployed after Foundation and Service
    synth = request.getfixturevalue(synth_name)
    monitoring = synth.stack("Monitoring")
    # Then it reads nothing through an export: CloudFormation refuses to change an export another stack
    # imports, so each one would block replacing or renaming its producer (a function, a log group, the
    # stage, a topic, the Redis group) in the stack that owns it
    assert _imports(monitoring) == []
    # ...it names them instead (the dashboard and the alarms still watch the deployed functions)
    body = json.dumps(monitoring)
    functions = _functions(synth)
    assert functions
    for props in functions.values():
        assert props["FunctionName"] in body, props["FunctionName"]
        assert f"/aws/lambda/{props['FunctionName']}" in body
    # the Redis group's generated id comes from the SSM parameter the foundation stack writes, at deploy
    redis_ref = {"Ref": next(iter(synth.resources("AWS::ElastiCache::ReplicationGroup")))}
    written = synth.resources("AWS::SSM::Parameter", stack="Foundation").values()
    [redis_parameter] = [p for p in written if p["Properties"]["Value"] == redis_ref]
    ssm_parameters = [
        p
        for p in monitoring.get("Parameters", {}).values()
        if "SSM" in p["Type"] and p["Default"].startswith("/ticketguard/")
    ]
    # (each a parameter the foundation stack writes; the Redis group's among them)
    names = {p["Properties"]["Name"] for p in written}
    read = {p["Default"] for p in ssm_parameters}
    assert read <= names and redis_parameter["Properties"]["Name"] in read
