"""The package as another team consumes it, through the real CLI: the Python example's
`pulumi up` on a real API server. The component package from Pulumi YAML and TypeScript
(`pulumi package add`) is in test_package_add.py."""

from __future__ import annotations

import shutil
from pathlib import Path

from support import PROJECT_DIR
from support.e2e import Cli, Prerequisites, istio_crds

TELEMETRY = "telemetries.telemetry.istio.io"


def test_the_python_consumer_comes_up_and_stays_put(
    cli: Cli, e2e: Prerequisites, tmp_path: Path
) -> None:
    project = tmp_path / "python-consumer"
    shutil.copytree(PROJECT_DIR / "examples" / "python-consumer", project)
    # The example installs the package from the repository by a relative path; here it is
    # already in the suite's virtual environment.
    cli.kubectl("apply", "--server-side", "-f", str(istio_crds(e2e)))
    for namespace in ("shop", "cart"):
        cli.kubectl("create", "namespace", namespace, check=False)
    cli.pulumi("stack", "init", "dev", "--secrets-provider", "passphrase", cwd=project)
    cli.pulumi(
        "config", "set", "--path", "shop-tracing:charts.source", str(e2e.charts_dir), cwd=project
    )
    try:
        cli.pulumi("up", "--yes", cwd=project)
        cli.pulumi("preview", "--expect-no-changes", cwd=project)
        live = cli.kubectl_json("get", TELEMETRY, "--all-namespaces")["items"]
        sampling = {
            t["metadata"]["namespace"]: t["spec"]["tracing"][0]["randomSamplingPercentage"]
            for t in live
            if t["metadata"]["namespace"] in ("shop", "cart")
        }
        assert sampling == {"shop": 100, "cart": 50}
        outputs = cli.pulumi("stack", "output", "--json", cwd=project).stdout
        assert '"trace_start_sampling_percent"' in outputs
    finally:
        cli.pulumi("destroy", "--yes", cwd=project, check=False)
        cli.kubectl(
            "delete", "namespace", "--ignore-not-found", "shop", "cart", "shop-tracing", check=False
        )
        # The session's cluster is shared: the dev stack of tests/e2e/test_stacks.py installs
        # Istio's base chart, which refuses CRDs it does not own.
        cli.kubectl("delete", "--ignore-not-found", "-f", str(istio_crds(e2e)), check=False)
