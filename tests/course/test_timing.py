"""Tests for deepfm_lite.course.timing: the median timer and the FM order-2 timing table."""

import time

import pytest
import torch

from deepfm_lite import layers
from deepfm_lite.course import timing


def test_median_seconds_ignores_one_slow_call_and_the_warmup():
    calls = []

    def sometimes_slow():
        calls.append(None)
        if len(calls) in (1, 3):  # the warm-up call and one timed call are slow
            time.sleep(0.05)

    seconds = timing.median_seconds(sometimes_slow, repeats=5, warmup=1)
    assert len(calls) == 6
    assert seconds < 0.02


def test_median_seconds_measures_a_sleep():
    assert timing.median_seconds(lambda: time.sleep(0.01), repeats=3, warmup=0) >= 0.009


@pytest.mark.parametrize("repeats, warmup", [(0, 1), (3, -1)])
def test_median_seconds_rejects_bad_counts(repeats, warmup):
    with pytest.raises(ValueError, match="repeats"):
        timing.median_seconds(lambda: None, repeats=repeats, warmup=warmup)


def test_gram_form_equals_the_other_two_forms():
    generator = torch.Generator().manual_seed(1)
    embeddings = torch.randn(5, 7, 3, dtype=torch.float64, generator=generator)
    gram = timing.fm_second_order_gram(embeddings)
    torch.testing.assert_close(gram, layers.fm_second_order(embeddings))
    torch.testing.assert_close(gram, layers.fm_second_order_pairwise(embeddings))


def test_timings_table_has_one_positive_row_per_count_and_form_and_restores_threads():
    threads = torch.get_num_threads()
    table = timing.fm_second_order_timings([2, 5], batch_size=8, embed_dim=3, repeats=2)
    assert torch.get_num_threads() == threads
    assert list(table.columns) == ["fields", "form", "seconds"]
    assert len(table) == 2 * len(timing.FM_FORMS)
    assert set(table["form"]) == set(timing.FM_FORMS)
    assert sorted(set(table["fields"])) == [2, 5]
    assert (table["seconds"] > 0).all()


def test_timings_reject_a_single_field():
    with pytest.raises(ValueError, match="field_counts"):
        timing.fm_second_order_timings([1, 4])
