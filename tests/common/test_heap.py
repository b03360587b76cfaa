"""A server's start-up heap is moved out of the cycle collector's reach."""

from __future__ import annotations

import gc

from bpm_common.heap import GC_THRESHOLDS, settle_heap


def test_settle_heap_freezes_what_exists_and_collects_less_often():
    before = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == GC_THRESHOLDS
        cycle: list[object] = []
        cycle.append(cycle)  # made after settling: still collected
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
