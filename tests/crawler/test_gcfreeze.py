"""The start-up's objects are frozen once per process, when the first crawl's engine starts."""

from __future__ import annotations

import gc

import pytest

from crawler.extensions import gcfreeze


@pytest.fixture
def unfrozen(monkeypatch):
    gc.unfreeze()
    monkeypatch.setattr(gcfreeze, "_frozen", False)
    yield
    gc.unfreeze()


def test_the_first_engine_start_freezes_what_is_alive_and_later_ones_freeze_nothing(unfrozen):
    gcfreeze.FreezeStartup().engine_started()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    later = [[n] for n in range(1000)]  # a later crawl's objects: still collectable
    gcfreeze.FreezeStartup().engine_started()
    assert gc.get_freeze_count() == frozen
    assert later
