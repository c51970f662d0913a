"""Precision and recall in production (review_ui.estimates): Wilson's and the exact interval,
the recall estimate's coverage on stores with known labels (also when a sample holds only a few
violations), the edge cases, and the dashboard's table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from review_ui import estimates
from review_ui.estimates import Cell, Interval, exact_share, wilson
from review_ui.models import Ad, ReviewItem, Source, Verdict
from review_ui.roles import OFFICERS, grant

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONTHS = (datetime(2026, 10, 15, tzinfo=SHANGHAI), datetime(2026, 11, 15, tzinfo=SHANGHAI))


# --- Wilson's interval ------------------------------------------------------------------------

@pytest.mark.parametrize(("k", "n", "low", "high"), [
    # Newcombe (1998), Statistics in Medicine 17:857, table I, method 3 (Wilson, no correction).
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_gives_the_published_intervals(k, n, low, high):
    interval = wilson(k, n)
    assert (round(interval.low, 4), round(interval.high, 4)) == (low, high)


def test_wilson_narrows_to_the_proportion_when_the_whole_population_is_seen():
    assert wilson(7, 10, population=10) == Interval(0.7, 0.7)
    plain, corrected = wilson(7, 10), wilson(7, 10, population=20)
    assert plain.low < corrected.low < 0.7 < corrected.high < plain.high
    assert wilson(0, 0) is None


def test_wilson_refuses_impossible_counts():
    with pytest.raises(ValueError, match="between 0 and n"):
        wilson(11, 10)
    with pytest.raises(ValueError, match="smaller than the sample"):
        wilson(3, 10, population=9)


# --- The exact interval ---------------------------------------------------------------------

@pytest.mark.parametrize(("k", "n", "low", "high"), [
    # Newcombe (1998), Statistics in Medicine 17:857, table I, method 5 (Clopper–Pearson).
    (81, 263, 0.2527, 0.3676),
    (15, 148, 0.0578, 0.1617),
    (0, 20, 0.0, 0.1684),
    (1, 29, 0.0009, 0.1776),
])
def test_the_exact_interval_gives_the_published_intervals(k, n, low, high):
    interval = exact_share(k, n)
    assert (round(interval.low, 4), round(interval.high, 4)) == (low, high)
    # From a population far larger than the sample, the hypergeometric interval is the same.
    wide = exact_share(k, n, population=10_000_000)
    assert wide.low == pytest.approx(interval.low, abs=2e-5)
    assert wide.high == pytest.approx(interval.high, abs=2e-5)


def test_the_exact_interval_narrows_to_the_proportion_when_the_whole_population_is_seen():
    assert exact_share(7, 10, population=10) == Interval(0.7, 0.7)
    plain, corrected = exact_share(7, 10), exact_share(7, 10, population=20)
    assert plain.low < corrected.low < 0.7 < corrected.high < plain.high
    assert exact_share(0, 30, population=500).low == 0.0
    assert exact_share(30, 30, population=500).high == 1.0
    assert exact_share(0, 0, population=5) is None


def test_the_exact_interval_ends_are_the_last_counts_the_test_keeps():
    """Each end is a whole count of the population, the last one the hypergeometric test at
    2.5% a side does not reject; one step further out it rejects."""
    from scipy.stats import hypergeom

    population, n, k = 188, 21, 2
    interval = exact_share(k, n, population=population)
    low, high = round(interval.low * population), round(interval.high * population)
    assert (low, high) == pytest.approx((interval.low * population, interval.high * population))
    assert hypergeom.sf(k - 1, population, low, n) > 0.025 >= hypergeom.sf(k - 1, population,
                                                                         low - 1, n)
    assert hypergeom.cdf(k, population, high, n) > 0.025 >= hypergeom.cdf(k, population,
                                                                        high + 1, n)


def test_the_exact_interval_refuses_impossible_counts():
    with pytest.raises(ValueError, match="between 0 and n"):
        exact_share(11, 10, population=50)
    with pytest.raises(ValueError, match="smaller than the sample"):
        exact_share(3, 10, population=9)


# --- The recall estimate on counts ------------------------------------------------------------

@dataclass
class Truth:
    """A store with known labels: which ads are violations, flagged, queued, decided."""

    violation: np.ndarray
    flagged: np.ndarray
    sampled: np.ndarray
    decided: np.ndarray

    @property
    def recall(self) -> float:
        return (self.violation & self.flagged).sum() / self.violation.sum()

    def cell(self, rate: float) -> Cell:
        flag, sample = self.flagged, self.sampled & ~self.flagged
        return Cell(
            flagged=int(flag.sum()), decided=int((flag & self.decided).sum()),
            violations=int((flag & self.decided & self.violation).sum()),
            unflagged=int((~flag).sum()), samples=int(sample.sum()),
            samples_decided=int((sample & self.decided).sum()),
            samples_violations=int((sample & self.decided & self.violation).sum()), rate=rate,
        ).compute()


def simulate(rng: np.random.Generator, n: int = 2000, prevalence: float = 0.15,
             recall: float = 0.7, false_flags: float = 0.03, rate: float = 0.1,
             decided: float = 0.8) -> Truth:
    violation = rng.random(n) < prevalence
    flagged = np.where(violation, rng.random(n) < recall, rng.random(n) < false_flags)
    sampled = ~flagged & (rng.random(n) < rate)
    return Truth(violation, flagged, sampled, rng.random(n) < decided)


def test_the_recall_interval_covers_the_true_recall_in_at_least_95_percent_of_stores():
    rng = np.random.default_rng(16)
    runs = [simulate(rng) for _ in range(400)]
    cells = [run.cell(0.1) for run in runs]
    covered = sum(run.recall in cell.recall_interval for run, cell in zip(runs, cells, strict=True))
    assert covered / len(runs) >= 0.95
    # ...and it says something: far narrower than [0, 1], and centred near the truth.
    widths = [cell.recall_interval.high - cell.recall_interval.low for cell in cells]
    assert np.mean(widths) < 0.45
    errors = [cell.recall - run.recall for run, cell in zip(runs, cells, strict=True)]
    assert abs(np.mean(errors)) < 0.03


def wilson_recall_interval(cell: Cell) -> Interval:
    """The recall interval as it was before the exact bounds: Wilson's on both proportions."""
    each = 1 - (1 - estimates.CONFIDENCE) / 2
    precision = wilson(cell.violations, cell.decided, each, cell.flagged)
    share = wilson(cell.samples_violations, cell.samples_decided, each, cell.unflagged)
    found, unflagged = precision.low * cell.flagged, cell.unflagged
    low = found / (found + share.high * unflagged)
    found = precision.high * cell.flagged
    return Interval(low, found / (found + share.low * unflagged))


def test_a_sample_with_few_violations_keeps_the_upper_bound_above_the_truth():
    """A source whose model misses little: about 6 violations among 280 unflagged ads, 0–3 of
    them in a sample of about 28, every flag decided (so only the share's lower bound can put
    the recall's upper bound below the truth, at most 1.25% of the time). Wilson's lower bound
    there is too high: the old interval's upper end fell below the truth in 31 of these 1,200
    stores (2.6%; 3.7% when computed exactly over the sample draws of 150 such populations),
    the exact bound's in 6 (0.5%), and the interval stays 95%."""
    rng = np.random.default_rng(2001)
    runs = [simulate(rng, n=400, prevalence=0.3, recall=0.95, rate=0.1, decided=1.0)
            for _ in range(1200)]
    cells = [(run, run.cell(0.15)) for run in runs]
    cells = [(run, cell) for run, cell in cells if cell.recall_interval is not None]
    assert len(cells) > 1100
    assert 0.3 < np.mean([cell.samples_violations for _, cell in cells]) < 1.5  # small counts
    old = [wilson_recall_interval(cell) for _, cell in cells]
    above_old = sum(run.recall > interval.high + 1e-12
                    for (run, _), interval in zip(cells, old, strict=True))
    above_new = sum(run.recall > cell.recall_interval.high + 1e-12 for run, cell in cells)
    assert above_old / len(cells) > 0.02  # the old bound: well over the 1.25% it promises
    assert above_new / len(cells) <= 0.0125
    covered = sum(run.recall in cell.recall_interval for run, cell in cells)
    assert covered / len(cells) >= 0.95
    # The price: hardly any width (about 1% here).
    widths = [cell.recall_interval.high - cell.recall_interval.low for _, cell in cells]
    widths_old = [interval.high - interval.low for interval in old]
    assert np.mean(widths) < 1.1 * np.mean(widths_old)


def test_few_false_flags_keep_the_precision_upper_bound_above_the_truth():
    """The mirror case: about 3 false flags among 165, 0–3 of them among the 50 decided
    (mid-review), precision near 1. Wilson's upper bound sits too close to the observed
    precision there: it fell below the true precision in 34 of these 1,000 stores (3.4%), over
    the 2.5% a 95% interval allows on a side; the exact one's in 5 (0.5%)."""
    rng = np.random.default_rng(1998)
    runs = [simulate(rng, n=600, prevalence=0.3, recall=0.9, false_flags=0.008, decided=0.3)
            for _ in range(1000)]
    above_old = above_new = 0
    for run in runs:
        cell = run.cell(0.1)
        truth = (run.violation & run.flagged).sum() / run.flagged.sum()
        old = wilson(cell.violations, cell.decided, estimates.CONFIDENCE, cell.flagged)
        above_old += truth > old.high + 1e-12
        above_new += truth > cell.precision_interval.high + 1e-12
    assert above_old / len(runs) > 0.025
    assert above_new / len(runs) <= 0.025


def test_the_precision_interval_covers_the_true_precision():
    rng = np.random.default_rng(5)
    runs = [simulate(rng) for _ in range(400)]
    covered = 0
    for run in runs:
        truth = (run.violation & run.flagged).sum() / run.flagged.sum()
        covered += truth in run.cell(0.1).precision_interval
    assert covered / len(runs) >= 0.95


def test_no_decided_sample_is_not_enough_data():
    cell = Cell(flagged=10, decided=10, violations=8, unflagged=500, samples=15).compute()
    assert cell.precision == 0.8 and cell.recall is None and cell.recall_interval is None


def test_flags_with_none_decided_leave_recall_unknown():
    cell = Cell(flagged=10, unflagged=500, samples=15, samples_decided=15,
                samples_violations=1).compute()
    assert cell.precision is None and cell.recall is None


def test_every_ad_queued_and_decided_makes_the_figures_exact():
    run = simulate(np.random.default_rng(3), n=600, rate=1.0, decided=1.0)
    cell = run.cell(1.0)
    assert cell.recall == pytest.approx(run.recall)
    assert cell.recall_interval.low == pytest.approx(run.recall)
    assert cell.recall_interval.high == pytest.approx(run.recall)
    assert cell.precision_interval.low == pytest.approx(cell.precision)


def test_all_violations():
    cell = Cell(flagged=40, decided=40, violations=40, unflagged=100, samples=10,
                samples_decided=10, samples_violations=10).compute()
    # 40 found, about 100 missed: recall near 40 / 140, and the interval admits it.
    assert cell.precision == 1.0 and cell.recall == pytest.approx(40 / 140)
    assert cell.recall_interval.low <= 40 / 140 <= cell.recall_interval.high < 1


def test_no_violation_anywhere_has_no_recall():
    cell = Cell(flagged=5, decided=5, violations=0, unflagged=100, samples=10,
                samples_decided=10).compute()
    assert cell.precision == 0.0 and cell.recall is None


def test_no_missed_violation_found_still_leaves_room_for_misses():
    cell = Cell(flagged=50, decided=50, violations=45, unflagged=1000, samples=30,
                samples_decided=30).compute()
    assert cell.recall == 1.0 and cell.recall_interval.low < 0.6


# --- The estimate from a store ----------------------------------------------------------------

@pytest.fixture
def officer(db):
    user = get_user_model().objects.create_user("estimator", password="a-long-test-password")
    grant(user, OFFICERS)
    return user


def build_store(run: Truth, officer, sources: int = 2) -> None:
    """Stores ``run``'s ads (alternating sources, months in turn), queues its flagged and
    sampled ads and decides the decided ones by their known label, through ReviewItem.decide."""
    names = [Source.objects.create(name=f"site{i}", kind="html") for i in range(sources)]
    now = timezone.now()
    ads = Ad.objects.bulk_create(
        Ad(url=f"http://127.0.0.1/ad/{i}", source=names[i % sources], fetched_at=now,
           first_seen_at=MONTHS[(i // sources) % len(MONTHS)], text=f"广告 {i}")
        for i in range(len(run.violation)))
    verdicts = Verdict.objects.bulk_create(
        Verdict(ad=ad, score=0.9 if flag else 0.1, label=bool(flag), model_version="m")
        for ad, flag in zip(ads, run.flagged, strict=True))
    for ad, verdict in zip(ads, verdicts, strict=True):
        ad.verdict = verdict
    Ad.objects.bulk_update(ads, ["verdict"])
    queued = ReviewItem.objects.bulk_create(
        ReviewItem(ad=ad, sample=not run.flagged[i])
        for i, ad in enumerate(ads) if run.flagged[i] or run.sampled[i])
    position = {ad.pk: i for i, ad in enumerate(ads)}
    for item in queued:
        i = position[item.ad_id]
        if run.decided[i]:
            if run.violation[i]:
                item.decide(officer, "confirmed", reason="open_tutoring")
            else:
                item.decide(officer, "dismissed", reason="adult")


def true_recall(run: Truth, keep: np.ndarray) -> float:
    return (run.violation & run.flagged & keep).sum() / (run.violation & keep).sum()


@pytest.mark.django_db
def test_on_a_store_with_known_labels_every_interval_covers_the_true_recall(officer):
    run = simulate(np.random.default_rng(2026), n=2000, rate=0.1, decided=0.8)
    build_store(run, officer)
    figures = estimates.build(rate=0.1)

    index = np.arange(len(run.violation))
    assert figures.total.flagged == run.flagged.sum()
    assert figures.total.samples == (run.sampled & ~run.flagged).sum()
    assert figures.total.unflagged == (~run.flagged).sum()
    assert run.recall in figures.total.recall_interval
    assert figures.total.recall == pytest.approx(run.recall, abs=0.1)
    assert [s.source for s in figures.sources] == ["site0", "site1"]
    for number, source in enumerate(figures.sources):
        in_source = index % 2 == number
        assert true_recall(run, in_source) in source.total.recall_interval
        assert [c.month.month for c in source.months] == [11, 10]  # latest first
        for cell in source.months:
            in_month = in_source & ((index // 2) % 2 == (cell.month.month - 10))
            assert cell.flagged == (run.flagged & in_month).sum()
            assert true_recall(run, in_month) in cell.recall_interval


@pytest.mark.django_db
def test_the_standing_decision_counts_and_copies_are_left_out(officer):
    supervisor = get_user_model().objects.create_user("sup", password="a-long-test-password")
    run = Truth(violation=np.array([True, True, False, True, False, False]),
                flagged=np.array([True, True, True, False, False, False]),
                sampled=np.array([False, False, False, True, True, True]),
                decided=np.ones(6, dtype=bool))
    build_store(run, officer, sources=1)
    before = estimates.build(rate=0.5).total
    assert (before.decided, before.violations) == (3, 2)
    assert (before.unflagged, before.samples_decided, before.samples_violations) == (3, 3, 1)

    first = ReviewItem.objects.get(ad__url="http://127.0.0.1/ad/0")
    first.reverse(supervisor, "dismissed", "not tutoring after all", reason="adult",
                  reverses=first.decisions.get().pk)
    copy = ReviewItem.objects.get(ad__url="http://127.0.0.1/ad/2")
    copy.reverse(supervisor, "dismissed", "a copy", reason="duplicate",
                 reverses=copy.decisions.get().pk)
    ReviewItem.objects.filter(ad__url="http://127.0.0.1/ad/4").update(
        status=ReviewItem.Status.MERGED)
    after = estimates.build(rate=0.5).total
    assert (after.flagged, after.decided, after.violations) == (2, 2, 1)
    assert (after.unflagged, after.samples_decided, after.samples_violations) == (2, 2, 1)


@pytest.mark.django_db
def test_the_dashboard_shows_the_table_in_chinese(supervisor_client, officer):
    run = Truth(violation=np.array([True, False, True, False] + [False] * 6),
                flagged=np.array([True, True, False, False] + [False] * 6),
                sampled=np.array([False, False, True, True] + [False] * 6),
                decided=np.array([True, True, True, True] + [False] * 6))
    build_store(run, officer)
    page = supervisor_client.get(reverse("review_ui:dashboard")).content.decode()
    for words in ("精确率", "召回率估计", "95% 置信区间", "全部来源", "site0", "2026-10"):
        assert words in page
    assert "数据不足" in page  # site1: no violation decided, so no recall
    assert "50%" in page  # all sources: one of the two flags was a violation
