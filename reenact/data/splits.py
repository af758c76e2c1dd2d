"""Identity-disjoint train/test splits, as in both papers (80/20 by identity, never by frame)."""

import hashlib
from collections.abc import Iterable


def _unit(key: str, seed: int) -> float:
    """A stable pseudo-random number in [0, 1) for a key (same on every machine and run)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_identities(identities: Iterable[str], test_fraction: float = 0.2, seed: int = 0
                     ) -> tuple[list[str], list[str]]:
    """Split identities into (train, test) with about ``test_fraction`` in test.

    Each identity's side is decided by its own hash (not a shuffle of the set), so adding
    identities later never moves existing ones between train and test; the test share is
    ``test_fraction`` on average. With two or more identities and one side empty (only likely for
    tiny sets), the identity nearest the threshold crosses over.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    ids = sorted(set(identities))
    u = {i: _unit(i, seed) for i in ids}
    test = {i for i in ids if u[i] < test_fraction}
    if len(ids) >= 2 and not test:
        test = {min(ids, key=u.get)}
    if len(ids) >= 2 and len(test) == len(ids):
        test.discard(max(ids, key=u.get))
    return [i for i in ids if i not in test], [i for i in ids if i in test]
