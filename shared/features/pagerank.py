"""Weighted PageRank by power iteration, in plain Python: the daily feature job runs in a Lambda
without numpy or networkx. Same conventions as networkx.pagerank (damping 0.85, out-weights
normalised per node, dangling nodes spread their rank uniformly, ranks sum to 1)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

DAMPING = 0.85


def pagerank(
    edges: Iterable[tuple[str, str, float]],
    *,
    damping: float = DAMPING,
    tol: float = 1e-12,
    max_iter: int = 500,
) -> dict[str, float]:
    """edges: (source, target, weight), repeated pairs add up. Returns node -> rank."""
    out_weight: dict[str, float] = defaultdict(float)
    incoming: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    nodes: set[str] = set()
    for source, target, weight in edges:
        if weight <= 0:
            continue
        nodes.add(source)
        nodes.add(target)
        out_weight[source] += weight
        incoming[target][source] += weight
    n = len(nodes)
    if n == 0:
        return {}
    order = sorted(nodes)
    rank = dict.fromkeys(order, 1.0 / n)
    dangling = [node for node in order if out_weight.get(node, 0.0) == 0.0]
    links = {node: [(src, w / out_weight[src]) for src, w in incoming[node].items()] for node in order}
    for _ in range(max_iter):
        dangling_mass = damping * sum(rank[node] for node in dangling) / n
        base = (1.0 - damping) / n + dangling_mass
        new_rank = {
            node: base + damping * sum(rank[src] * share for src, share in links[node]) for node in order
        }
        change = sum(abs(new_rank[node] - rank[node]) for node in order)
        rank = new_rank
        if change < tol * n:
            break
    return rank
