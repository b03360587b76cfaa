"""A deterministic left-to-right layout for the flows the approval-tree builder makes.

The flow is a series of blocks: shapes (events, tasks, gateways) and forks (a
split gateway, stacked branches, a join gateway). The first branch of a fork
stays on the line of the fork, the others are stacked below it, so the main path
is one straight line. Edges are orthogonal: straight along a line, or down from
the split's bottom corner and up into the join's bottom corner. Condition labels
sit just above the first horizontal segment of their flow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GAP = 50
"""Horizontal space between two blocks."""
ROW_GAP = 40
"""Vertical space between two stacked branches (room for a condition label)."""
EMPTY_BRANCH = 20
"""Half the height an empty branch takes."""
LABEL_HEIGHT = 14
ORIGIN_X = 150
TOP_MARGIN = 80

SIZES = {"event": (36, 36), "task": (100, 80), "gateway": (50, 50)}

Point = tuple[int, int]
Bounds = tuple[int, int, int, int]


@dataclass
class Box:
    """One shape: a BPMN element of kind `event`, `task` or `gateway`."""

    element_id: str
    kind: str

    @property
    def size(self) -> tuple[int, int]:
        return SIZES[self.kind]


@dataclass
class Series:
    """Blocks one after the other; `links[i]` is the flow from block i to block i + 1."""

    blocks: list[Box | Fork] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


@dataclass
class Branch:
    """One branch of a fork. `enter` is the flow from the split (the only flow of an
    empty branch, which goes to the join); `leave` the flow into the join."""

    series: Series
    enter: str
    leave: str | None
    label: str | None = None


@dataclass
class Fork:
    split: Box
    join: Box
    branches: list[Branch]


@dataclass
class Diagram:
    shapes: dict[str, Bounds] = field(default_factory=dict)
    edges: dict[str, list[Point]] = field(default_factory=dict)
    labels: dict[str, Bounds] = field(default_factory=dict)


@dataclass(frozen=True)
class _Extent:
    width: int
    up: int
    down: int


def layout(series: Series) -> Diagram:
    """Shapes, edge waypoints and labels for the whole flow."""
    diagram = Diagram()
    extent = _measure(series)
    _place_series(series, ORIGIN_X, TOP_MARGIN + extent.up, diagram)
    return diagram


def _measure(block: Box | Fork | Series) -> _Extent:
    if isinstance(block, Box):
        width, height = block.size
        return _Extent(width, height // 2, height - height // 2)
    if isinstance(block, Series):
        if not block.blocks:
            return _Extent(0, EMPTY_BRANCH, EMPTY_BRANCH)
        parts = [_measure(b) for b in block.blocks]
        width = sum(p.width for p in parts) + GAP * (len(parts) - 1)
        return _Extent(width, max(p.up for p in parts), max(p.down for p in parts))
    rows = _rows(block)
    inner = max(_measure(b.series).width for b in block.branches)
    split_w, split_h = block.split.size
    join_w, _ = block.join.size
    first = _measure(block.branches[0].series)
    last = _measure(block.branches[-1].series)
    return _Extent(
        split_w + GAP + inner + GAP + join_w,
        max(split_h // 2, first.up),
        max(split_h // 2, rows[-1] + last.down),
    )


def _rows(fork: Fork) -> list[int]:
    """Offsets of each branch's line below the fork's line (the first is 0)."""
    offsets = [0]
    for previous, branch in zip(fork.branches, fork.branches[1:], strict=False):
        offsets.append(
            offsets[-1] + _measure(previous.series).down + ROW_GAP + _measure(branch.series).up
        )
    return offsets


def _place_series(series: Series, x: int, y: int, diagram: Diagram) -> tuple[str, str] | None:
    """Place the blocks on the line `y` from `x`; returns (first, last) element ids."""
    ends: list[tuple[str, str]] = []
    for block in series.blocks:
        ends.append(_place(block, x, y, diagram))
        x += _measure(block).width + GAP
    for (_, exit_id), (entry_id, _), flow_id in zip(ends[:-1], ends[1:], series.links, strict=True):
        diagram.edges[flow_id] = [_right(diagram, exit_id), _left(diagram, entry_id)]
    return (ends[0][0], ends[-1][1]) if ends else None


def _place(block: Box | Fork, x: int, y: int, diagram: Diagram) -> tuple[str, str]:
    if isinstance(block, Box):
        width, height = block.size
        diagram.shapes[block.element_id] = (x, y - height // 2, width, height)
        return block.element_id, block.element_id
    split, join = block.split, block.join
    _place(split, x, y, diagram)
    inner = max(_measure(b.series).width for b in block.branches)
    branch_x = x + split.size[0] + GAP
    join_x = branch_x + inner + GAP
    _place(join, join_x, y, diagram)
    sx, sy, sw, sh = diagram.shapes[split.element_id]
    jx, jy, jw, jh = diagram.shapes[join.element_id]
    split_mid, join_mid = sx + sw // 2, jx + jw // 2
    for offset, branch in zip(_rows(block), block.branches, strict=True):
        row = y + offset
        ends = _place_series(branch.series, branch_x, row, diagram)
        down = [(split_mid, sy + sh), (split_mid, row)] if offset else [(sx + sw, y)]
        up = [(join_mid, row), (join_mid, jy + jh)] if offset else [(jx, y)]
        if ends is None:
            diagram.edges[branch.enter] = down + up
        else:
            entry, exit_ = ends
            diagram.edges[branch.enter] = [*down, _left(diagram, entry)]
            assert branch.leave is not None
            diagram.edges[branch.leave] = [_right(diagram, exit_), *up]
        if branch.label:
            start_x = diagram.edges[branch.enter][1 if offset else 0][0]
            width = min(200, 10 + 6 * len(branch.label))
            diagram.labels[branch.enter] = (
                start_x + 8,
                row - LABEL_HEIGHT - 4,
                width,
                LABEL_HEIGHT,
            )
    return split.element_id, join.element_id


def _left(diagram: Diagram, element_id: str) -> Point:
    x, y, _, height = diagram.shapes[element_id]
    return x, y + height // 2


def _right(diagram: Diagram, element_id: str) -> Point:
    x, y, width, height = diagram.shapes[element_id]
    return x + width, y + height // 2
