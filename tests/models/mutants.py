"""Small programs with one kind of ordering or synchronisation site each, for `rmapwalk mutate`."""

from rmapwalk.engine import ONCE, Program, fence, load, observe, store
from rmapwalk.engine.mutation import mutation_point
from rmapwalk.kernel import (
    READ_ONCE,
    WRITE_ONCE,
    atomic_inc,
    smp_load_acquire,
    smp_store_release,
    spin_lock,
    spin_unlock,
    xchg,
)
from rmapwalk.kernel.once import plain_read, plain_write
from rmapwalk.kernel.races import report_data_races
from rmapwalk.kernel.rcu import rcu_dereference, rcu_read_lock, rcu_read_unlock, synchronize_rcu
from rmapwalk.kernel.slab import kmem_cache_create, kmem_cache_free

# message passing with release/acquire: the release matters under PSO, the acquire under weak/LKMM
mp_rel_acq = Program("MP+rel+acq")
_d, _f = mp_rel_acq.var("data"), mp_rel_acq.var("flag")


@mp_rel_acq.thread
def writer() -> None:
    WRITE_ONCE(_d, 1)
    smp_store_release(_f, 1)


@mp_rel_acq.thread
def reader() -> None:
    r0 = smp_load_acquire(_f)
    r1 = READ_ONCE(_d)
    observe("r0", r0)
    observe("r1", r1)


mp_rel_acq.forbid(lambda f: f["reader:r0"] == 1 and f["reader:r1"] == 0, "flag seen, data stale")

# store buffering with a fully ordered xchg where smp_mb would be
sb_xchg = Program("SB+xchg")
_x, _y, _s0, _s1 = sb_xchg.var("x"), sb_xchg.var("y"), sb_xchg.var("s0"), sb_xchg.var("s1")


@sb_xchg.thread
def P0() -> None:
    WRITE_ONCE(_x, 1)
    xchg(_s0, 1)
    observe("r0", READ_ONCE(_y))


@sb_xchg.thread
def P1() -> None:
    WRITE_ONCE(_y, 1)
    xchg(_s1, 1)
    observe("r1", READ_ONCE(_x))


sb_xchg.forbid(lambda f: f["P0:r0"] == 0 and f["P1:r1"] == 0, "both missed")

# two increments of a counter: atomic_inc is atomic; a load + store loses one
counter = Program("counter")
_c = counter.var("c")


def _inc() -> None:
    atomic_inc(_c)


counter.thread(_inc, name="A")
counter.thread(_inc, name="B")
counter.require(lambda f: f["c"] == 2, "no increment lost")

# a critical section: removing the lock loses an update
locked = Program("locked")
_lk, _n = locked.var("lock"), locked.var("n")


def _locked_inc() -> None:
    spin_lock(_lk)
    WRITE_ONCE(_n, READ_ONCE(_n) + 1)
    spin_unlock(_lk)


locked.thread(_locked_inc, name="A")
locked.thread(_locked_inc, name="B")
locked.require(lambda f: f["n"] == 2, "no update lost")

# RCU: a reader's section and the updater's grace period keep the object alive
rcu = Program("rcu")
_cache = kmem_cache_create(rcu, "obj", ["a"], capacity=2)
(_obj,) = _cache.preallocate(rcu, 1)
rcu.init[_obj] = 1
_gp = rcu.var("gp", _obj)


@rcu.thread
def rcu_reader() -> None:
    rcu_read_lock()
    q = rcu_dereference(_gp)
    if q:
        READ_ONCE(_cache.f(q, "a"))
    rcu_read_unlock()


@rcu.thread
def rcu_updater() -> None:
    old = READ_ONCE(_gp)
    WRITE_ONCE(_gp, 0)
    synchronize_rcu()
    kmem_cache_free(_cache, old)


# a declared check: the consumer takes the item only when the flag says it is ready
check = Program("check")
_item, _ready = check.var("item"), check.var("ready")


@check.thread
def producer() -> None:
    WRITE_ONCE(_item, 7)
    smp_store_release(_ready, 1)


@check.thread
def consumer() -> None:
    if mutation_point("item ready", smp_load_acquire(_ready) == 1):
        assert READ_ONCE(_item) == 7, "took an item that is not there"


# data races are checked: the flag's marking matters, and only that
racy = Program("racy")
_p, _g, _g2 = racy.var("payload"), racy.var("go"), racy.var("go2")
report_data_races(racy)


@racy.thread
def racy_writer() -> None:
    plain_write(_p, 1)
    smp_store_release(_g, 1)
    WRITE_ONCE(_g2, 1)


@racy.thread
def racy_reader() -> None:
    if smp_load_acquire(_g):
        plain_read(_p)
    READ_ONCE(_g2)


# the engine's own operations, called by the model: a fence and marked accesses
engine_sb = Program("engine-SB")
_ex, _ey = engine_sb.var("x"), engine_sb.var("y")


@engine_sb.thread
def E0() -> None:
    store(_ex, 1, ONCE)
    fence("mb")
    observe("r0", load(_ey, ONCE))


@engine_sb.thread
def E1() -> None:
    store(_ey, 1, ONCE)
    fence("mb")
    observe("r1", load(_ex, ONCE))


engine_sb.forbid(lambda f: f["E0:r0"] == 0 and f["E1:r1"] == 0, "both missed")
