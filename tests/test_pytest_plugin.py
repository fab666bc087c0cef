"""The pytest plugin: @model_check tests pass, fail with the trace and the replay file, and take
their bounds from the decorator or the command line."""

from __future__ import annotations

import re
import textwrap

import pytest
from click.testing import CliRunner

from rmapwalk.cli import main
from rmapwalk.pytest_plugin import CheckSettings, ModelCheckFailed, model_check, run_check

pytest_plugins = ["pytester"]

SB_BUILDER = '''
from rmapwalk.engine import Program, observe
from rmapwalk.kernel import READ_ONCE, WRITE_ONCE, smp_mb
from rmapwalk.pytest_plugin import model_check


def make(mb):
    p = Program("SB+mb" if mb else "SB")
    x, y = p.var("x"), p.var("y")

    @p.thread
    def P0():
        WRITE_ONCE(x, 1)
        if mb:
            smp_mb()
        observe("r0", READ_ONCE(y))

    @p.thread
    def P1():
        WRITE_ONCE(y, 1)
        if mb:
            smp_mb()
        observe("r1", READ_ONCE(x))

    p.forbid(lambda f: f["P0:r0"] == 0 and f["P1:r1"] == 0, "both loads missed the other store")
    return p
'''


def module(body: str) -> str:
    return SB_BUILDER + "\n\n" + textwrap.dedent(body)


def test_pass_and_fail_with_trace_and_replay(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sb=module('''
        @model_check(model="tso")
        def test_with_mb():
            return make(True)

        @model_check(model="tso", max_executions=1000)
        def test_without_mb():
            return make(False)
    '''))
    res = pytester.runpytest("-p", "no:cacheprovider")
    res.assert_outcomes(passed=1, failed=1)
    out = res.stdout.str()
    assert "rmapwalk: test_without_mb: model check failed under tso" in out
    assert "verdict: VIOLATED (1 violation)" in out
    assert "violation: both loads missed the other store" in out
    assert re.search(r"\| WRITE_ONCE\(x, 1\) -> store buffer +\[test_sb\.py:\d+\]", out)
    m = re.search(r"replay: rmapwalk replay (\S+)", out)
    assert m, out
    replay_file = pytester.path / m.group(1)
    assert replay_file.is_file() and replay_file.parent.name == "rmapwalk-replays"
    assert "Traceback" not in out and "During handling" not in out
    # the saved replay shows the same trace again (the plugin prints the column layout; replay
    # picks its layout by the width, so ask for the same)
    cli = CliRunner().invoke(main, ["replay", "--layout", "columns", str(replay_file)], catch_exceptions=False)
    assert cli.exit_code == 1, cli.output
    assert cli.stderr == ""
    trace = cli.stdout.splitlines()
    assert trace[0].startswith("violation: both loads missed the other store")
    for row in trace[1:]:
        assert row.rstrip() in out


def test_command_line_overrides_the_decorator(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_models=module('''
        @model_check(model="sc")
        def test_sb():
            return make(False)
    '''))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    res = pytester.runpytest("-p", "no:cacheprovider", "--rmapwalk-model", "tso")
    res.assert_outcomes(failed=1)
    assert "model check failed under tso" in res.stdout.str()
    res = pytester.runpytest("-p", "no:cacheprovider", "--rmapwalk-max-executions", "1")
    res.assert_outcomes(failed=1)
    assert "verdict: INCOMPLETE: stopped after 1 executions" in res.stdout.str()
    res = pytester.runpytest("-p", "no:cacheprovider", "--rmapwalk-model", "nosuch")
    assert res.ret == pytest.ExitCode.USAGE_ERROR


def test_incomplete_may_be_allowed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inc=module('''
        @model_check(max_executions=1, allow_incomplete=True)
        def test_bounded():
            return make(True)
    '''))
    res = pytester.runpytest("-p", "no:cacheprovider", "-W", "default")
    res.assert_outcomes(passed=1, warnings=1)
    assert "RmapwalkIncompleteWarning" in res.stdout.str()


def test_fixtures_classes_markers_and_replay_dir(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_more=module('''
        import pytest

        @model_check(model="pso")
        def test_uses_a_fixture(tmp_path):
            assert tmp_path.is_dir()
            return make(True)

        class TestGroup:
            @model_check(model="tso")
            def test_in_class(self):
                return make(False)

        def test_plain():
            pass
    '''))
    rp = pytester.path / "my-replays"
    res = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers", "-m", "rmapwalk",
                             "--rmapwalk-replay-dir", str(rp))
    res.assert_outcomes(passed=1, failed=1, deselected=1)
    files = sorted(p.name for p in rp.iterdir())
    assert files == ["model-test_more-TestGroup.test_in_class-tso-1.py", "test_more-TestGroup.test_in_class-tso-1.json"]
    cli = CliRunner().invoke(main, ["replay", str(rp / files[1])], catch_exceptions=False)
    assert cli.exit_code == 1 and "both loads missed the other store" in cli.stdout


def test_bad_tests_are_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bad=module('''
        @model_check
        def test_returns_nothing():
            pass
    '''))
    res = pytester.runpytest("-p", "no:cacheprovider")
    res.assert_outcomes(failed=1)
    assert "must return a rmapwalk Program, not NoneType" in res.stdout.str()
    pytester.makepyfile(test_bad=module('''
        @model_check(model="arm")
        def test_unknown_model():
            return make(True)
    '''))
    res = pytester.runpytest("-p", "no:cacheprovider")
    assert res.ret == pytest.ExitCode.INTERRUPTED  # a collection error
    assert "unknown memory model 'arm'" in res.stdout.str()


def test_without_the_plugin_the_decorator_still_checks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_noplugin=module('''
        @model_check(model="tso")
        def test_sb():
            return make(False)

        @model_check(model="tso")
        def test_sb_mb():
            return make(True)
    '''))
    res = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:rmapwalk",
                             "-W", "ignore::pytest.PytestUnknownMarkWarning")
    res.assert_outcomes(passed=1, failed=1)
    assert "ModelCheckFailed" in res.stdout.str() and "replay: (not saved)" in res.stdout.str()


def test_model_names_are_the_engines() -> None:
    from rmapwalk.engine.models import MODELS
    from rmapwalk.pytest_plugin import MODEL_NAMES

    assert set(MODEL_NAMES) == set(MODELS)


def test_run_check_directly() -> None:
    from rmapwalk.examples.sb import sb, sb_mb

    out = run_check(sb_mb, CheckSettings(model="tso"))
    assert out.result.verdict == "holds" and out.replay_files == []
    with pytest.raises(ModelCheckFailed, match="both loads missed the other store"):
        run_check(sb, CheckSettings(model="tso"))
    with pytest.raises(TypeError):
        run_check(42, CheckSettings())
    with pytest.raises(ValueError, match="unknown memory model"):
        model_check(model="x86")
    with pytest.raises(ValueError, match="max_executions"):
        model_check(max_executions=0)
