"""Every target's verdict, judged from the recorded runs: the one place a verdict comes from.

The bench judges its cases with these functions after they ran, and ``record.cases_of`` judges
them again whenever a results file is read, so the documents never print a verdict that was
stored beside the runs: change a run and the verdict follows (``tests/test_bench_verdicts.py``).
The targets themselves (limits, labels) stay with the case that measures them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from bench import cases, pg_cases, scale
from bench.casekit import Config, full_case_name
from bench.harness import CaseResult, Target

Judge = Callable[[CaseResult, Mapping[str, CaseResult]], list[Target]]


def _alone(judge: Callable[[CaseResult], list[Target]]) -> Judge:
    """A judge that needs only its own case's runs."""
    return lambda case, _others: judge(case)


def judges(cfg: Config, ran: Collection[str]) -> dict[str, Judge]:
    """Case name -> the function that judges it, for the cases `cfg` configures; the full loads
    judged are chosen among those that `ran`."""
    full_sizes = [n for n in cfg.full_sizes if full_case_name(n) in ran]
    found: dict[str, Judge] = {
        full_case_name(n): _alone(cases.full_load_targets)
        for n in cases.judged_full_sizes(full_sizes)
    }
    if cfg.large_insights > 0:
        reference = full_case_name(cfg.large_reference)
        found[full_case_name(cfg.large_insights)] = lambda case, others: scale.large_load_targets(
            case, others.get(reference)
        )
    found.update(
        latency=_alone(cases.latency_targets),
        nothing_new=_alone(cases.nothing_new_targets),
        k_new=_alone(cases.k_new_targets),
        rate_limit=_alone(cases.rate_limit_targets),
        faults=_alone(cases.faults_targets),
    )
    found.update({name: _alone(judge) for name, judge in pg_cases.judges(cfg).items()})
    if cfg.state_sizes:
        found["state_size"] = lambda case, _others: scale.state_targets(
            case.name, list(case.data.get("state", []))
        )
    return found


def judge(results: Mapping[str, CaseResult], cfg: Config) -> None:
    """Replace every case's targets with those its runs earn (a case without a judge has none)."""
    by_name = judges(cfg, set(results))
    for case in results.values():
        if case.name.startswith(cases.MEMORY_FLAT_PREFIX):
            case.targets = cases.memory_flat_targets(case, results)
            continue
        judge_case = by_name.get(case.name)
        case.targets = judge_case(case, results) if judge_case else []
