"""The Linux-kernel memory model, loaded from its own files, on hand-built candidate executions."""

from __future__ import annotations

import pytest
from cat_litmus import LKMM, LKMM_MODEL, Builder, mp

from rmapwalk.cat import CatError, CatModel, Config, Execution, Outcome, load_config, load_model
from rmapwalk.cat.reader import parse

pytestmark = pytest.mark.skipif(not LKMM_MODEL.is_dir(), reason=f"LKMM model files not found in {LKMM}")


@pytest.fixture(scope="module")
def cfg() -> Config:
    return load_config(LKMM_MODEL / "linux-kernel.cfg")


@pytest.fixture(scope="module")
def lkmm(cfg: Config) -> CatModel:
    return cfg.model


def verdict(model: CatModel, ex: Execution) -> list[Outcome]:
    return list(model.run(ex))


def only(model: CatModel, ex: Execution) -> Outcome:
    (o,) = verdict(model, ex)
    return o


# -- loading ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["linux-kernel.bell", "linux-kernel.cat", "lock.cat"])
def test_model_files_parse(name: str) -> None:
    model = parse((LKMM_MODEL / name).read_text(), name)
    assert model.body


def test_config(cfg: Config) -> None:
    assert cfg.macros == LKMM_MODEL / "linux-kernel.def"
    assert cfg.macros.is_file()
    assert cfg.variants == frozenset({"lkmmv2"})
    assert cfg.path == LKMM_MODEL / "linux-kernel.cfg"
    m = cfg.model
    assert m.title == "Linux-kernel memory consistency model"
    assert m.generates_co
    for check in ("coherence", "atomic", "happens-before", "propagation", "rcu", "plain-coherence", "ConsCo"):
        assert check in m.checks
    assert "data-race" in m.flag_names


def test_cat_without_bell_is_an_error_at_run_time() -> None:
    m = load_model(LKMM_MODEL / "linux-kernel.cat", variants=["lkmmv2"])
    with pytest.raises(CatError, match="unbound name"):
        list(m.run(mp()))


def test_variant_flag(lkmm: CatModel) -> None:
    cfg1 = load_config(LKMM_MODEL / "linux-kernel.cfg")
    assert "this-model-requires-variant-higher-than-lkmmv1" not in only(cfg1.model, mp()).flags
    from rmapwalk.cat import compile_files

    bell = LKMM_MODEL / "linux-kernel.bell"
    cat = LKMM_MODEL / "linux-kernel.cat"
    m = compile_files([(str(bell), bell.read_text()), (str(cat), cat.read_text())], variants=[])
    assert "this-model-requires-variant-higher-than-lkmmv1" in only(m, mp()).flags


def test_caller_must_not_give_co(lkmm: CatModel) -> None:
    b = Builder()
    b.init("x")
    ex = b.build(co=[])
    with pytest.raises(CatError, match="generates co"):
        list(lkmm.run(ex))


# -- classic shapes ---------------------------------------------------------------------------------------------------


def test_mp(lkmm: CatModel) -> None:
    assert only(lkmm, mp()) == Outcome(True, None, frozenset())


def test_mp_wmb_rmb(lkmm: CatModel) -> None:
    assert only(lkmm, mp((("wmb",),), (("rmb",),))) == Outcome(False, "happens-before", frozenset())


def test_mp_wmb_only(lkmm: CatModel) -> None:
    assert only(lkmm, mp((("wmb",),), ())).allowed


def test_mp_release_acquire(lkmm: CatModel) -> None:
    o = only(lkmm, mp(wannot=("ONCE", "RELEASE"), rannot=("ACQUIRE", "ONCE")))
    assert o == Outcome(False, "happens-before", frozenset())


def test_mp_plain_accesses_race(lkmm: CatModel) -> None:
    b = Builder()
    ix = b.init("x")
    b.init("y")
    wx = b.plain_w(0, "x", 1)
    wy = b.w(0, "y", 1)
    ry = b.r(1, "y", 1)
    rx = b.plain_r(1, "x", 0)
    b.rf(wy, ry)
    b.rf(ix, rx)
    o = only(lkmm, b.build(final=[wx, wy]))
    assert o.allowed
    assert "data-race" in o.flags


def sb(mb: bool) -> Execution:
    b = Builder()
    ix, iy = b.init("x"), b.init("y")
    wx = b.w(0, "x", 1)
    if mb:
        b.f(0, "MB")
    ry = b.r(0, "y", 0)
    wy = b.w(1, "y", 1)
    if mb:
        b.f(1, "MB")
    rx = b.r(1, "x", 0)
    b.rf(iy, ry)
    b.rf(ix, rx)
    return b.build(final=[wx, wy])


def test_sb(lkmm: CatModel) -> None:
    assert only(lkmm, sb(False)).allowed
    assert only(lkmm, sb(True)) == Outcome(False, "propagation", frozenset())


def lb(dep: str | None) -> Execution:
    b = Builder()
    b.init("x")
    b.init("y")
    rx = b.r(0, "x", 1)
    wy = b.w(0, "y", 1)
    ry = b.r(1, "y", 1)
    wx = b.w(1, "x", 1)
    b.rf(wx, rx)
    b.rf(wy, ry)
    if dep:
        b.rel(dep, rx, wy)
        b.rel(dep, ry, wx)
    return b.build(final=[wx, wy])


def test_lb(lkmm: CatModel) -> None:
    assert only(lkmm, lb(None)).allowed
    assert only(lkmm, lb("data")).failed == "happens-before"
    assert only(lkmm, lb("ctrl")).failed == "happens-before"


def test_coherence_rr(lkmm: CatModel) -> None:
    """CoRR: reading 1 then 0 from the same location is forbidden (caught by the co pre-check)."""
    b = Builder()
    ix = b.init("x")
    wx = b.w(0, "x", 1)
    r1 = b.r(1, "x", 1)
    r2 = b.r(1, "x", 0)
    b.rf(wx, r1)
    b.rf(ix, r2)
    o = only(lkmm, b.build(final=[wx]))
    assert not o.allowed and o.failed == "ConsCo"


def test_rmw_atomicity(lkmm: CatModel) -> None:
    """Two xchg() both reading the initial value: the atomicity check fails on every co."""
    b = Builder()
    ix = b.init("x")
    r0, w0 = b.r(0, "x", 0, "MB"), b.w(0, "x", 1, "MB")
    r1, w1 = b.r(1, "x", 0, "MB"), b.w(1, "x", 2, "MB")
    b.rel("rmw", r0, w0)
    b.rel("rmw", r1, w1)
    b.mark("RMW", r0, w0, r1, w1)
    b.rf(ix, r0)
    b.rf(ix, r1)
    assert verdict(lkmm, b.build(final=[w1])) == [Outcome(False, "atomic", frozenset())]
    # without a final-write constraint both coherence orders are tried, both fail
    assert [o.failed for o in verdict(lkmm, b.build())] == ["atomic", "atomic"]


def test_rmw_chained_ok(lkmm: CatModel) -> None:
    b = Builder()
    ix = b.init("x")
    r0, w0 = b.r(0, "x", 0, "MB"), b.w(0, "x", 1, "MB")
    r1, w1 = b.r(1, "x", 1, "MB"), b.w(1, "x", 2, "MB")
    b.rel("rmw", r0, w0)
    b.rel("rmw", r1, w1)
    b.mark("RMW", r0, w0, r1, w1)
    b.rf(ix, r0)
    b.rf(w0, r1)
    assert only(lkmm, b.build(final=[w1])).allowed


def locked(bad: bool) -> Execution:
    """P0: lock; x=1; y=1; unlock.  P1: lock; r0=y (1); r1=x (0 if bad); unlock."""
    b = Builder()
    b.init("s")
    ix = b.init("x")
    b.init("y")
    b.lock(0, "s")
    wx = b.w(0, "x", 1)
    wy = b.w(0, "y", 1)
    b.unlock(0, "s")
    b.lock(1, "s")
    ry = b.r(1, "y", 1)
    rx = b.r(1, "x", 0 if bad else 1)
    b.unlock(1, "s")
    b.rf(wy, ry)
    b.rf(ix if bad else wx, rx)
    return b.build(final=[wx, wy])


def test_spin_lock(lkmm: CatModel) -> None:
    # two paths: which critical section takes the lock first
    bad = verdict(lkmm, locked(True))
    assert len(bad) == 2 and not any(o.allowed for o in bad)
    good = verdict(lkmm, locked(False))
    assert sorted(o.allowed for o in good) == [False, True]


def test_spin_lock_nested_deadlocks(lkmm: CatModel) -> None:
    b = Builder()
    b.init("s")
    b.lock(0, "s")
    b.lock(0, "s")
    assert [o.failed for o in verdict(lkmm, b.build())] == ["lock-nest"]


def rcu(sync: bool, unlock: bool = True) -> Execution:
    """P0: rcu_read_lock; r0=x (1); r1=y (0); rcu_read_unlock.  P1: y=1; synchronize_rcu; x=1."""
    b = Builder()
    b.init("x")
    iy = b.init("y")
    b.f(0, "rcu-lock")
    rx = b.r(0, "x", 1)
    ry = b.r(0, "y", 0)
    if unlock:
        b.f(0, "rcu-unlock")
    wy = b.w(1, "y", 1)
    if sync:
        b.f(1, "sync-rcu")
    wx = b.w(1, "x", 1)
    b.rf(wx, rx)
    b.rf(iy, ry)
    return b.build(final=[wx, wy])


def test_rcu(lkmm: CatModel) -> None:
    assert only(lkmm, rcu(True)) == Outcome(False, "rcu", frozenset())
    assert only(lkmm, rcu(False)).allowed


def test_rcu_unmatched_lock_flag(lkmm: CatModel) -> None:
    o = only(lkmm, rcu(False, unlock=False))
    assert o.allowed and "unmatched-rcu-lock" in o.flags


def test_co_paths(lkmm: CatModel) -> None:
    """2+2W: two writes per location and no final-write constraint: 2 x 2 coherence orders."""
    b = Builder()
    b.init("x")
    b.init("y")
    b.w(0, "x", 1)
    b.w(0, "y", 2)
    b.w(1, "y", 1)
    b.w(1, "x", 2)
    outs = verdict(lkmm, b.build())
    assert len(outs) == 4
    assert sum(o.allowed for o in outs) == 4  # 2+2W is allowed by LKMM without fences


# -- more shapes with well-known LKMM verdicts (tools/memory-model/litmus-tests) --


def iriw(mb: bool) -> Execution:
    b = Builder()
    ix, iy = b.init("x"), b.init("y")
    wx = b.w(0, "x", 1)
    wy = b.w(1, "y", 1)
    r0 = b.r(2, "x", 1)
    if mb:
        b.f(2, "MB")
    r1 = b.r(2, "y", 0)
    r2 = b.r(3, "y", 1)
    if mb:
        b.f(3, "MB")
    r3 = b.r(3, "x", 0)
    b.rf(wx, r0)
    b.rf(iy, r1)
    b.rf(wy, r2)
    b.rf(ix, r3)
    return b.build(final=[wx, wy])


def test_iriw(lkmm: CatModel) -> None:
    assert only(lkmm, iriw(False)).allowed  # IRIW+poonceonces+OnceOnce: allowed
    assert not only(lkmm, iriw(True)).allowed  # IRIW+fencembonceonces+OnceOnce: forbidden


def wrc(release_rmb: bool) -> Execution:
    """WRC: P0: x=1.  P1: r0=x (1); y=1 (release).  P2: r1=y (1); [rmb]; r2=x (0)."""
    b = Builder()
    ix = b.init("x")
    b.init("y")
    wx = b.w(0, "x", 1)
    r0 = b.r(1, "x", 1)
    wy = b.w(1, "y", 1, "RELEASE" if release_rmb else "ONCE")
    r1 = b.r(2, "y", 1)
    if release_rmb:
        b.f(2, "rmb")
    r2 = b.r(2, "x", 0)
    b.rf(wx, r0)
    b.rf(wy, r1)
    b.rf(ix, r2)
    return b.build(final=[wx, wy])


def test_wrc(lkmm: CatModel) -> None:
    assert only(lkmm, wrc(False)).allowed  # WRC+poonceonces+Once
    assert not only(lkmm, wrc(True)).allowed  # WRC+pooncerelease+fencermbonceonce+Once


def test_z6_0_release_acquire_chain_is_not_enough(lkmm: CatModel) -> None:
    """Z6.0+pooncerelease+poacquirerelease+fencembonceonce: allowed ("Sometimes")."""
    b = Builder()
    ix = b.init("x")
    b.init("y")
    b.init("z")
    wx = b.w(0, "x", 1)
    wy = b.w(0, "y", 1, "RELEASE")
    ry = b.r(1, "y", 1, "ACQUIRE")
    b.w(1, "z", 1, "RELEASE")
    wz2 = b.w(2, "z", 2)
    b.f(2, "MB")
    rx = b.r(2, "x", 0)
    b.rf(wy, ry)
    b.rf(ix, rx)
    (o,) = verdict(lkmm, b.build(final=[wx, wy, wz2]))
    assert o.allowed


def test_isa2_release_acquire_chain(lkmm: CatModel) -> None:
    """ISA2+pooncerelease+poacquirerelease+poacquireonce: forbidden."""
    b = Builder()
    ix = b.init("x")
    b.init("y")
    b.init("z")
    wx = b.w(0, "x", 1)
    wy = b.w(0, "y", 1, "RELEASE")
    ry = b.r(1, "y", 1, "ACQUIRE")
    wz = b.w(1, "z", 1, "RELEASE")
    rz = b.r(2, "z", 1, "ACQUIRE")
    rx = b.r(2, "x", 0)
    b.rf(wy, ry)
    b.rf(wz, rz)
    b.rf(ix, rx)
    assert only(lkmm, b.build(final=[wx, wy, wz])).failed == "happens-before"


def s_shape(fenced: bool) -> Execution:
    """S: P0: x=2; [wmb]; y=1.  P1: r0=y (1, acquire if fenced); x=1; final x=2."""
    b = Builder()
    b.init("x")
    b.init("y")
    wx2 = b.w(0, "x", 2)
    if fenced:
        b.f(0, "wmb")
    wy = b.w(0, "y", 1)
    ry = b.r(1, "y", 1, "ACQUIRE" if fenced else "ONCE")
    b.w(1, "x", 1)
    b.rf(wy, ry)
    return b.build(final=[wx2, wy])


def test_s(lkmm: CatModel) -> None:
    assert only(lkmm, s_shape(False)).allowed  # S+poonceonces
    assert not only(lkmm, s_shape(True)).allowed  # S+fencewmbonceonce+poacquireonce
