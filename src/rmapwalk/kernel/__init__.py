"""Linux concurrency primitives on top of the engine, with the kernel's names and semantics.

Model code written with these reads like kernel C: ``READ_ONCE(x)``, ``smp_wmb()``,
``cmpxchg(p, old, new)``.  Every call is one or more engine events.

Every primitive is importable from here under its kernel name (``from rmapwalk.kernel import
rcu_dereference, kmem_cache_alloc``), together with the three rmapwalk helpers a model needs to set
some of them up: ``init_rcu`` (for ``call_rcu``), ``report_data_races`` and the ``KmemCache``
type.  The submodules (``once``, ``barriers``, ``atomic``, ``atomic_long``, ``bitops``, ``spinlock``, ``rcu``,
``slab``, ``nulls``, ``races``) hold the same objects, plus rmapwalk's own internals (the checks
the engine runs on finished executions, layout constants).  docs/kernel-api.md documents them all;
``tests/kernel/test_namespace.py`` keeps this list, the submodules and that page in step.
"""

from rmapwalk.kernel.atomic import (
    atomic_add,
    atomic_add_return,
    atomic_add_return_acquire,
    atomic_add_return_relaxed,
    atomic_add_return_release,
    atomic_cmpxchg,
    atomic_cmpxchg_acquire,
    atomic_cmpxchg_relaxed,
    atomic_cmpxchg_release,
    atomic_dec,
    atomic_dec_and_test,
    atomic_dec_return,
    atomic_dec_return_acquire,
    atomic_dec_return_relaxed,
    atomic_dec_return_release,
    atomic_fetch_add,
    atomic_fetch_add_acquire,
    atomic_fetch_add_relaxed,
    atomic_fetch_add_release,
    atomic_fetch_dec,
    atomic_fetch_dec_acquire,
    atomic_fetch_dec_relaxed,
    atomic_fetch_dec_release,
    atomic_fetch_inc,
    atomic_fetch_inc_acquire,
    atomic_fetch_inc_relaxed,
    atomic_fetch_inc_release,
    atomic_fetch_sub,
    atomic_fetch_sub_acquire,
    atomic_fetch_sub_relaxed,
    atomic_fetch_sub_release,
    atomic_inc,
    atomic_inc_not_zero,
    atomic_inc_return,
    atomic_inc_return_acquire,
    atomic_inc_return_relaxed,
    atomic_inc_return_release,
    atomic_read,
    atomic_set,
    atomic_sub,
    atomic_sub_return,
    atomic_sub_return_acquire,
    atomic_sub_return_relaxed,
    atomic_sub_return_release,
    atomic_xchg,
    atomic_xchg_acquire,
    atomic_xchg_relaxed,
    atomic_xchg_release,
    cmpxchg,
    cmpxchg_acquire,
    cmpxchg_relaxed,
    cmpxchg_release,
    xchg,
    xchg_acquire,
    xchg_relaxed,
    xchg_release,
)
from rmapwalk.kernel.atomic_long import (
    atomic_long_read,
    atomic_long_set,
    atomic_long_set_release,
    atomic_long_try_cmpxchg,
    atomic_long_try_cmpxchg_acquire,
    atomic_long_try_cmpxchg_relaxed,
    cmpxchg64,
)
from rmapwalk.kernel.barriers import (
    barrier,
    smp_mb,
    smp_mb__after_atomic,
    smp_mb__after_spinlock,
    smp_mb__after_srcu_read_unlock,
    smp_mb__after_unlock_lock,
    smp_mb__before_atomic,
    smp_rmb,
    smp_wmb,
)
from rmapwalk.kernel.bitops import (
    BITS_PER_LONG,
    __clear_bit,
    __set_bit,
    clear_bit,
    set_bit,
    test_and_clear_bit,
    test_and_set_bit,
    test_bit,
)
from rmapwalk.kernel.nulls import (
    INIT_HLIST_NULLS_HEAD,
    LIST_POISON2,
    NULLS_MARKER,
    get_nulls_value,
    hlist_nulls_add_head_rcu,
    hlist_nulls_del_rcu,
    hlist_nulls_for_each_entry_rcu,
    is_a_nulls,
)
from rmapwalk.kernel.once import READ_ONCE, WRITE_ONCE, plain_read, plain_write, smp_load_acquire, smp_store_release
from rmapwalk.kernel.races import report_data_races
from rmapwalk.kernel.rcu import (
    call_rcu,
    init_rcu,
    rcu_assign_pointer,
    rcu_barrier,
    rcu_dereference,
    rcu_read_lock,
    rcu_read_lock_held,
    rcu_read_unlock,
    synchronize_rcu,
    synchronize_rcu_expedited,
)
from rmapwalk.kernel.slab import (
    SLAB_DESTROY_BY_RCU,
    SLAB_TYPESAFE_BY_RCU,
    KmemCache,
    kfree,
    kmalloc,
    kmem_cache_alloc,
    kmem_cache_create,
    kmem_cache_free,
)
from rmapwalk.kernel.spinlock import spin_is_locked, spin_lock, spin_trylock, spin_unlock
from rmapwalk.kernel.wait import cpu_relax, smp_cond_load_acquire, smp_cond_load_relaxed

__all__ = [
    # once
    "READ_ONCE", "WRITE_ONCE", "smp_load_acquire", "smp_store_release", "plain_read", "plain_write",
    # barriers
    "barrier", "smp_mb", "smp_mb__after_atomic", "smp_mb__after_spinlock",
    "smp_mb__after_srcu_read_unlock", "smp_mb__after_unlock_lock",
    "smp_mb__before_atomic", "smp_rmb", "smp_wmb",
    # wait
    "cpu_relax", "smp_cond_load_acquire", "smp_cond_load_relaxed",
    # atomic
    "cmpxchg", "cmpxchg_acquire", "cmpxchg_relaxed", "cmpxchg_release",
    "xchg", "xchg_acquire", "xchg_relaxed", "xchg_release",
    "atomic_read", "atomic_set", "atomic_add", "atomic_sub", "atomic_inc", "atomic_dec",
    "atomic_add_return", "atomic_add_return_acquire", "atomic_add_return_relaxed", "atomic_add_return_release",
    "atomic_sub_return", "atomic_sub_return_acquire", "atomic_sub_return_relaxed", "atomic_sub_return_release",
    "atomic_inc_return", "atomic_inc_return_acquire", "atomic_inc_return_relaxed", "atomic_inc_return_release",
    "atomic_dec_return", "atomic_dec_return_acquire", "atomic_dec_return_relaxed", "atomic_dec_return_release",
    "atomic_fetch_add", "atomic_fetch_add_acquire", "atomic_fetch_add_relaxed", "atomic_fetch_add_release",
    "atomic_fetch_sub", "atomic_fetch_sub_acquire", "atomic_fetch_sub_relaxed", "atomic_fetch_sub_release",
    "atomic_fetch_inc", "atomic_fetch_inc_acquire", "atomic_fetch_inc_relaxed", "atomic_fetch_inc_release",
    "atomic_fetch_dec", "atomic_fetch_dec_acquire", "atomic_fetch_dec_relaxed", "atomic_fetch_dec_release",
    "atomic_xchg", "atomic_xchg_acquire", "atomic_xchg_relaxed", "atomic_xchg_release",
    "atomic_cmpxchg", "atomic_cmpxchg_acquire", "atomic_cmpxchg_relaxed", "atomic_cmpxchg_release",
    "atomic_dec_and_test", "atomic_inc_not_zero",
    # bitops
    "BITS_PER_LONG", "set_bit", "clear_bit", "test_bit", "test_and_set_bit", "test_and_clear_bit",
    "__set_bit", "__clear_bit",
    # spinlock
    "spin_lock", "spin_trylock", "spin_unlock", "spin_is_locked",
    # rcu
    "rcu_read_lock", "rcu_read_unlock", "rcu_read_lock_held", "rcu_dereference", "rcu_assign_pointer",
    "synchronize_rcu", "synchronize_rcu_expedited", "call_rcu", "rcu_barrier", "init_rcu",
    # slab
    "SLAB_TYPESAFE_BY_RCU", "SLAB_DESTROY_BY_RCU", "KmemCache", "kmem_cache_create", "kmem_cache_alloc",
    "kmem_cache_free", "kmalloc", "kfree",
    # nulls
    "NULLS_MARKER", "is_a_nulls", "get_nulls_value", "INIT_HLIST_NULLS_HEAD", "LIST_POISON2",
    "hlist_nulls_add_head_rcu", "hlist_nulls_del_rcu", "hlist_nulls_for_each_entry_rcu",
    # races
    "report_data_races",
    # atomic_long_t and cmpxchg64 (rmapwalk.kernel.atomic_long)
    "atomic_long_read", "atomic_long_set", "atomic_long_set_release", "atomic_long_try_cmpxchg",
    "atomic_long_try_cmpxchg_acquire", "atomic_long_try_cmpxchg_relaxed", "cmpxchg64",
]
