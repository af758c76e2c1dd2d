"""Weight files are read weights-only, and a refused file never gets torch's advice to load it
with weights_only=False (which runs any code the file holds; issue 22, item 10)."""

import collections

import pytest
import torch

from reenact.io.weights import load_weights


class Payload:  # a class a pickle would have to import and build: never done
    pass


def test_files_that_are_not_weights_only_are_refused_without_unsafe_advice(tmp_path):
    good = tmp_path / "good.pt"
    torch.save({"w": torch.ones(2), "meta": collections.OrderedDict(step=3)}, good)
    assert torch.equal(load_weights(good)["w"], torch.ones(2))
    code = tmp_path / "code.pt"
    torch.save({"w": torch.ones(2), "obj": Payload()}, code)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    for path, reason in [(code, "Unsupported global"), (junk, "Unsupported operand")]:
        with pytest.raises(ValueError) as err:
            load_weights(path, "checkpoint")
        message = str(err.value)
        assert message.startswith(f"{path}: not a checkpoint (") and reason in message
        assert "weights_only" not in message and "\n" not in message
    with pytest.raises(FileNotFoundError, match="missing.pt: no such checkpoint"):
        load_weights(tmp_path / "missing.pt", "checkpoint")
