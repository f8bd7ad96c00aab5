"""The command once its request is parsed: a dry run, one load, or one load per org.

Each pipeline's settings are checked (`settings.check_settings`) right before its load, so an
org whose settings fail ends with its own error line and the next org still loads. The JSON
report (`--report-json`) is written whatever happens, with the line and status the process
ends with.
"""

from __future__ import annotations

from pipelines.command.dry_run import dry_run
from pipelines.command.orgs import configured_orgs
from pipelines.command.request import RunRequest
from pipelines.command.settings import check_settings, register_root_config
from pipelines.failures import combined_status
from pipelines.load.demo import DemoData
from pipelines.load.runner import load
from pipelines.output.outcome import report_org_failure
from pipelines.output.report_json import PipelineRun, RunReport


def run(request: RunRequest) -> int:
    """Run what `request` asks for; returns the exit status.

    Errors propagate to the caller's reporter (one line, exit status); `--report-json` is
    written whatever happens, with the same line and status.
    """
    register_root_config()
    if request.dry_run:
        return dry_run(request)
    report = RunReport.start(request.report_json)
    try:
        org_names = configured_orgs(request)
        if org_names:
            status = run_orgs(request, org_names, report)
        else:
            status = run_pipeline(request, None, report.new_run(None))
        report.finish(status)
    except BaseException as exc:
        report.fail(exc)
        raise
    finally:
        report.write()
    return status


def run_orgs(request: RunRequest, org_names: list[str], report: RunReport) -> int:
    """Each org in turn; one org's failure does not stop the next (Ctrl-C stops them all).

    Each failure prints its own `error: org <org>: ...` line; the exit status is the first
    failing org's (see `failures.combined_status`).
    """
    statuses = []
    for org in org_names:
        record = report.new_run(org)
        try:
            statuses.append(run_pipeline(request, org, record))
        except Exception as exc:
            failed = report_org_failure(org, exc, verbose=request.verbose, quiet=request.quiet)
            statuses.append(failed)
    return combined_status(statuses)


def run_pipeline(request: RunRequest, org: str | None, record: PipelineRun) -> int:
    """One pipeline's settings checked, then its load; `record` keeps what it did."""
    try:
        checked = check_settings(request, org)
        demo = DemoData(request.demo_insights, request.demo_seed) if request.demo else None
        status = load(
            checked.target,
            checked.source_args,
            record,
            demo=demo,
            quiet=request.quiet,
            progress_every=request.progress_every,
        )
    except BaseException as exc:
        record.fail(exc)
        raise
    record.finish(status)
    return status
