import random

import pytest

from reenact.data.sampling import PairSchedule, same_video_pair, sample_pair
from reenact.data.splits import split_identities


def test_split_is_identity_disjoint_about_80_20_and_stable():
    ids = [f"id{i:03d}" for i in range(200)]
    train, test = split_identities(ids)
    assert not set(train) & set(test) and sorted(train + test) == ids
    assert 25 <= len(test) <= 55  # 20% on average (binomial, n = 200)
    # adding identities never moves existing ones
    train2, test2 = split_identities(ids + [f"new{i}" for i in range(50)])
    assert set(test2) & set(ids) == set(test) and set(train2) & set(ids) == set(train)
    small_train, small_test = split_identities(["a", "b"])
    assert len(small_train) == 1 and len(small_test) == 1
    with pytest.raises(ValueError, match="test_fraction"):
        split_identities(ids, test_fraction=1.5)


def test_pair_schedule_and_hybrid_sampling():
    sched = PairSchedule(0.8, 0.2, 100)
    assert sched(0) == 0.8 and sched(50) == pytest.approx(0.5) and sched(1000) == 0.2
    videos = {"v1": list(range(10)), "v2": list(range(10)), "v3": list(range(5))}
    who = {"v1": "alice", "v2": "alice", "v3": "bob"}
    rng = random.Random(0)
    pairs = [sample_pair(videos, who, 0.8, rng) for _ in range(2000)]
    rate = sum(p.paired for p in pairs) / len(pairs)
    assert 0.75 < rate < 0.85
    for p in pairs:
        if p.paired:
            assert p.source[0] == p.driving[0] and p.source[1] != p.driving[1]
        else:
            assert who[p.source[0]] != who[p.driving[0]]
    q = same_video_pair(videos, rng)
    assert q.paired and q.source[0] == q.driving[0] and q.source[1] != q.driving[1]
