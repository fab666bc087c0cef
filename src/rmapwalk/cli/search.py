"""How ``run``, ``resume`` and ``check kvm`` explore: the exhaustive explorer in this process,
the search split across worker processes or a Dask cluster (with checkpoints), or random
sampling, as the scale options (:func:`.options.scale_options`) ask; the progress line on a
terminal; failures of the search itself as one-line errors."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from rmapwalk.cli.common import Fail, output_opts, warn
from rmapwalk.cli.options import RANDOM_ONLY, scale_opts
from rmapwalk.engine.explore import Explorer, Options
from rmapwalk.loader import show_path
from rmapwalk.report import progress

if TYPE_CHECKING:
    from rmapwalk.engine.program import Program


def explore(explorer: Any) -> Any:
    """``explorer.run()`` with the progress line on a terminal (unless --quiet)."""
    opts = output_opts()
    prog, model = getattr(explorer, "prog", None), getattr(explorer, "model", None)
    label = f"{getattr(prog, 'name', '')} @{getattr(model, 'name', model)}" if prog is not None else ""
    result = progress.run_with_progress(explorer, quiet=bool(opts.get("quiet")), label=label)
    opts["explored"] = True
    return result



def search(prog: Program, loaded: Any, model: str, opts: Options, as_json: bool, source: Any = None) -> Any:
    """What ``run`` (and ``check kvm``) explores with: the exhaustive explorer, split across
    workers, or random sampling (--random).  ``source`` says how workers rebuild the program
    (default: re-import the model file ``loaded``)."""
    from rmapwalk.engine.estimate import estimate
    from rmapwalk.engine.randomized import RandomExplorer

    so = scale_opts()
    given = so["given"]
    if so.get("all_outcomes"):
        opts.max_outcomes = None
    if so.get("lb_search"):
        opts.lb_search = so["lb_search"]
    if not so.get("random_search"):
        bad = [n for n in RANDOM_ONLY if n in given and n != "seed"]
        if bad:
            raise Fail(f"--{bad[0]} needs --random")
    if so.get("estimate"):
        est = estimate(prog, model, seed=so.get("seed") or 0, max_events=opts.max_events)
        click.echo(est.describe(), err=as_json)
    if so.get("random_search"):
        if so.get("jobs") is not None or so.get("cluster") or so.get("checkpoint"):
            raise Fail("--jobs, --cluster and --checkpoint apply to the exhaustive search, not to --random")
        return RandomExplorer(prog, model, opts, seed=so.get("seed") or 0, executions=so.get("executions") or 1000,
                              scheduler=so.get("scheduler") or "uniform", depth=so.get("depth") or 3)
    if "checkpoint_interval" in given and not so.get("checkpoint"):
        raise Fail("--checkpoint-interval needs --checkpoint")
    jobs = so.get("jobs")
    ckpt = so.get("checkpoint")
    if "slice_executions" in given and not (jobs is not None or so.get("cluster") or ckpt):
        raise Fail("--slice-executions applies to --jobs, --cluster or --checkpoint")
    if jobs is not None or so.get("cluster") or ckpt:
        from rmapwalk.engine.parallel import ParallelSearch
        from rmapwalk.engine.workunit import ProgramSource, SearchConfig

        if source is None:
            source = ProgramSource(path=loaded.path, symbol=loaded.symbol, sha256=loaded.sha256)
        config = SearchConfig(source, model, max_events=opts.max_events, keep_violations=opts.keep_violations,
                              stop_on_first=opts.stop_on_first, lb_search=opts.lb_search)
        parallel = ParallelSearch(config, prog, jobs=worker_count(jobs), cluster=so.get("cluster"),
                                  timeout=opts.timeout, max_executions=opts.max_executions,
                                  slice_executions=so.get("slice_executions"),
                                  checkpoint=checkpointer(ckpt) if ckpt else None,
                                  checkpoint_interval=_interval(so.get("checkpoint_interval")))
        parallel.result.max_outcomes = opts.max_outcomes
        return GuardedSearch(parallel, ckpt)
    return Explorer(prog, model, opts)


def _interval(seconds: float | None) -> float:
    """--checkpoint-interval: absent 3 s; 0 is a checkpoint after every work unit."""
    return 3.0 if seconds is None else seconds


def worker_count(jobs: int | None) -> int:
    """--jobs: absent 1 (this process), 0 (or alone) one worker per core, else N."""
    from rmapwalk.engine.parallel import default_jobs

    return 1 if jobs is None else jobs or default_jobs()


def checkpointer(path: str) -> Callable[[dict[str, Any]], None]:
    """Save checkpoints to ``path``; a failed write (a full disk) is a warning and the previous
    checkpoint stays; the search goes on and tries again at the next interval."""
    from rmapwalk.engine.checkpoint import CheckpointWriteError, save_checkpoint

    warned: set[str] = set()

    def save(state: dict[str, Any]) -> None:
        try:
            save_checkpoint(path, state)
        except CheckpointWriteError as e:
            if str(e) not in warned:
                warned.add(str(e))
                warn(str(e))

    return save


class GuardedSearch:
    """A search whose own failures (workers that keep dying, a lost cluster, a bad checkpoint)
    become one-line errors; ``stats``/``result`` stay live for the progress line."""

    def __init__(self, search: Any, checkpoint: str | None = None) -> None:
        self.search = search
        self.checkpoint = checkpoint
        self.prog = search.prog
        self.model = search.model
        self.stats = search.stats
        self.result = search.result

    def run(self) -> Any:
        from rmapwalk.engine.checkpoint import CheckpointError
        from rmapwalk.engine.parallel import SearchError
        from rmapwalk.engine.workunit import UnitError

        try:
            res = self.search.run()
        except (SearchError, UnitError, CheckpointError) as e:
            raise Fail(str(e)) from None
        if self.checkpoint and not self.search.finished and os.path.exists(self.checkpoint):
            click.echo(f"rmapwalk: progress saved in {show_path(self.checkpoint)}; "
                       f"`rmapwalk resume {show_path(self.checkpoint)}` continues", err=True)
        return res


