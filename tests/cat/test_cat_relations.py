"""The bit-matrix relation algebra against a naive set-of-pairs implementation."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmapwalk.cat.relations import linear_extensions, shape

Pairs = frozenset[tuple[int, int]]


@st.composite
def rel_case(draw: st.DrawFn, k: int = 2) -> tuple[int, list[Pairs], list[int]]:
    n = draw(st.integers(min_value=1, max_value=9))
    pair = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))
    rels = [frozenset(draw(st.sets(pair, max_size=n * 3))) for _ in range(k)]
    sets = [draw(st.integers(min_value=0, max_value=(1 << n) - 1)) for _ in range(k)]
    return n, rels, sets


def naive_compose(a: Pairs, b: Pairs) -> Pairs:
    return frozenset((i, k) for i, j in a for j2, k in b if j == j2)


def naive_closure(a: Pairs) -> Pairs:
    r = set(a)
    while True:
        more = naive_compose(frozenset(r), frozenset(r)) - r
        if not more:
            return frozenset(r)
        r |= more


def members(s: int, n: int) -> set[int]:
    return {i for i in range(n) if s >> i & 1}


#: no deadline and no "too slow" health check: whether these pass does not depend on the machine's speed
_UNTIMED: dict[str, Any] = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}


@settings(max_examples=300, **_UNTIMED)
@given(rel_case())
def test_algebra_matches_naive(case: tuple[int, list[Pairs], list[int]]) -> None:
    n, (a, b), (s, t) = case
    sh = shape(n)
    ma, mb = sh.from_pairs(a), sh.from_pairs(b)
    assert set(sh.pairs(ma)) == a
    assert set(sh.pairs(sh.compose(ma, mb))) == naive_compose(a, b)
    assert set(sh.pairs(sh.inverse(ma))) == {(j, i) for i, j in a}
    assert set(sh.pairs(sh.closure(ma))) == naive_closure(a)
    assert members(sh.domain(ma), n) == {i for i, _ in a}
    assert members(sh.range(ma), n) == {j for _, j in a}
    assert set(sh.pairs(sh.ident(s))) == {(i, i) for i in members(s, n)}
    assert set(sh.pairs(sh.cart(s, t))) == {(i, j) for i in members(s, n) for j in members(t, n)}
    assert set(sh.pairs(ma & sh.rows_of(s) & sh.cols_of(t))) == {
        (i, j) for i, j in a if i in members(s, n) and j in members(t, n)
    }
    assert sh.irreflexive(ma) == all(i != j for i, j in a)
    assert sh.acyclic(ma) == all(i != j for i, j in naive_closure(a))
    assert sh.to_succ(ma) == tuple(sum(1 << j for i2, j in a if i2 == i) for i in range(n))


@settings(max_examples=150, **_UNTIMED)
@given(rel_case(k=1))
def test_linear_extensions(case: tuple[int, list[Pairs], list[int]]) -> None:
    import itertools

    n, (a,), (s,) = case
    sh = shape(n)
    nodes = sorted(members(s, n))
    if len(nodes) > 6:
        nodes = nodes[:6]
        s = sum(1 << i for i in nodes)
    closed = naive_closure(a)
    expected = set()
    for perm in itertools.permutations(nodes):
        order = frozenset((perm[x], perm[y]) for x in range(len(perm)) for y in range(x + 1, len(perm)))
        if all(p in order for p in closed if p[0] in nodes and p[1] in nodes):
            expected.add(order)
    got = [frozenset(sh.pairs(m)) for m in linear_extensions(sh, s, sh.from_pairs(a))]
    assert len(got) == len(set(got))
    assert set(got) == expected
