"""ember.save / ember.load: round trips, interchange with torch, and files that must be
refused without running anything."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ember
from oracle import torch

DTYPES = ("float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool")


def saved(obj, **kw) -> bytes:
    buffer = io.BytesIO()
    ember.save(obj, buffer, **kw)
    return buffer.getvalue()


def loaded(data: bytes):
    return ember.load(io.BytesIO(data))


def same(a, b) -> None:
    """Equal structure (container types included), dtypes, shapes and values; NaN == NaN."""
    if isinstance(a, (ember.Tensor, torch.Tensor)):
        assert isinstance(b, (ember.Tensor, torch.Tensor))
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        assert a.requires_grad == b.requires_grad
        assert type(a).__name__ == type(b).__name__  # Tensor / Parameter
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    elif isinstance(a, dict):
        assert type(a) is type(b) and list(a) == list(b)
        for k in a:
            same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert type(a) is type(b) and a == b


@st.composite
def tensors(draw, lib):
    dtype = draw(st.sampled_from(DTYPES))
    array = draw(hnp.arrays(np.dtype(dtype), hnp.array_shapes(min_dims=0, max_dims=3,
                                                              min_side=0, max_side=4)))
    t = lib.tensor(array)
    if array.ndim >= 2 and draw(st.booleans()):
        t = t.transpose(0, 1)  # saved from a non-contiguous view
    if dtype.startswith("float") and draw(st.booleans()):
        t.requires_grad_()
    return t


def structures(lib):
    leaves = st.one_of(tensors(lib), st.integers(-2**80, 2**80), st.floats(), st.text(max_size=5),
                       st.booleans(), st.none())
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers(-3, 3)), inner, max_size=3),
        st.dictionaries(st.text(max_size=4), inner, max_size=3).map(OrderedDict)), max_leaves=8)


@settings(max_examples=60)
@given(obj=structures(ember))
def test_ember_format_round_trip(obj):
    same(loaded(saved(obj)), obj)


@settings(max_examples=40)
@given(obj=structures(ember))
def test_saved_in_torch_format_reads_in_torch(obj):
    data = saved(obj, format="torch")
    same(torch.load(io.BytesIO(data), weights_only=True), to_torch(obj))
    same(loaded(data), obj)  # and back


@settings(max_examples=40)
@given(obj=structures(torch))
def test_torch_save_reads_in_ember(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    same(loaded(buffer.getvalue()), obj)


def to_torch(obj):
    if isinstance(obj, ember.Tensor):
        t = torch.tensor(obj.detach().numpy())
        return t.requires_grad_() if obj.requires_grad else t
    if isinstance(obj, dict):
        return type(obj)((k, to_torch(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_torch(v) for v in obj)
    return obj


def test_views_sharing_one_storage_and_parameters_from_torch():
    base = torch.arange(12.0)
    obj = {"a": base[2:8].view(2, 3), "b": base[1::3], "whole": base,
           "p": torch.nn.Parameter(torch.ones(2)), "frozen": torch.nn.Parameter(
               torch.zeros(1), requires_grad=False), "size": torch.Size([2, 3]),
           "dtype": torch.float64}
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    out = loaded(buffer.getvalue())
    for key in ("a", "b", "whole", "p", "frozen"):
        same(out[key], obj[key])
    assert tuple(out["size"]) == (2, 3) and out["dtype"] is ember.float64


def test_weights_move_between_torch_and_ember_models(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    torch.save(model.state_dict(), tmp_path / "torch.pt")
    weights = ember.load(tmp_path / "torch.pt")
    assert isinstance(weights, OrderedDict) and list(weights) == list(model.state_dict())

    # ember computes with the loaded weights what torch computes ...
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    h = ember.tanh(ember.tensor(x) @ weights["0.weight"].t() + weights["0.bias"])
    y = h @ weights["2.weight"].t() + weights["2.bias"]
    np.testing.assert_allclose(y.numpy(), model(torch.tensor(x)).detach().numpy(), rtol=1e-6)

    # ... and weights changed by ember, saved by ember, load into a torch model.
    changed = OrderedDict((k, v * 2) for k, v in weights.items())
    for fmt in ("ember", "torch"):
        path = tmp_path / f"ember.{fmt}"
        ember.save(changed, path, format=fmt)
        state = ember.load(path) if fmt == "ember" else torch.load(path, weights_only=True)
        if fmt == "ember":
            state = OrderedDict((k, torch.tensor(v.numpy())) for k, v in state.items())
        fresh = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
        fresh.load_state_dict(state)
        for k, v in fresh.state_dict().items():
            np.testing.assert_array_equal(v.numpy(), changed[k].numpy())


def test_a_plain_safetensors_file_gives_its_tensors():
    header = {"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
    text = json.dumps(header).encode()
    data = struct.pack("<Q", len(text)) + text + np.array([1.5, -2], "<f4").tobytes()
    out = loaded(data)
    assert list(out) == ["x"] and out["x"].tolist() == [1.5, -2.0]


# ----- files that must be refused --------------------------------------------------------------
def refused(data: bytes, error=RuntimeError, match="ember.load"):
    with pytest.raises(error, match=match):
        loaded(data)


def test_truncated_ember_files_are_refused():
    data = saved({"w": ember.ones(5, 3), "b": [ember.zeros(2)]})
    for cut in range(0, len(data), 7):
        refused(data[:cut])


def test_wrong_magic_and_garbage_are_refused():
    refused(b"")
    refused(b"hello world, not a model file at all")
    refused(b"\x00" * 8 + b"{}" + b"junk")  # a zero-length header: not JSON
    refused(bytes(range(64)))


def test_headers_that_lie_are_refused():
    def file_with(header: dict, payload: bytes = b"\x00" * 8) -> bytes:
        text = json.dumps(header).encode()
        return struct.pack("<Q", len(text)) + text + payload

    refused(struct.pack("<Q", 2**40) + b"{}")  # declares a header far beyond the file
    refused(file_with({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}),
            match="outside")  # bytes beyond the file
    refused(file_with({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}),
            match="needs 16 bytes")  # shape and byte range disagree
    refused(file_with({"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}),
            match="malformed")
    refused(file_with({"x": {"dtype": "OBJ", "shape": [1], "data_offsets": [0, 8]}}),
            match="unsupported dtype")
    structure = {"__metadata__": {"format": "ember", "structure": json.dumps({"tensor": "9"})}}
    refused(file_with(structure), match="lacks")
    structure = {"__metadata__": {"format": "ember", "structure": json.dumps({"eval": "1"})}}
    refused(file_with(structure), match="unknown structure")


def torch_zip(pickled: bytes, storages: dict | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickled)
        archive.writestr("archive/byteorder", "little")
        for key, raw in (storages or {}).items():
            archive.writestr(f"archive/data/{key}", raw)
    return buffer.getvalue()


class CallsAFunction:
    """A pickle that, if loaded by plain pickle, would create a file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_a_pickle_that_calls_a_function_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    for payload in ({"w": CallsAFunction(str(marker))}, [eval], CallsAFunction(str(marker))):
        data = torch_zip(pickle.dumps(payload, protocol=2))
        with pytest.raises(pickle.UnpicklingError, match="refuses to run"):
            loaded(data)
    assert not marker.exists()


def test_damaged_torch_archives_are_refused():
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(4, 4)}, buffer)
    data = buffer.getvalue()
    for cut in (10, len(data) // 2, len(data) - 30):
        with pytest.raises(RuntimeError, match="ember.load"):
            loaded(data[:cut])
    refused(torch_zip(b"not a pickle"))
    refused(torch_zip(b""), match="ember.load")
    # a tensor record pointing past the end of its storage
    good = io.BytesIO()
    torch.save(torch.ones(2), good)
    archive = zipfile.ZipFile(io.BytesIO(good.getvalue()))
    pickled = archive.read([n for n in archive.namelist() if n.endswith("data.pkl")][0])
    refused(torch_zip(pickled, {"0": b"\x00" * 4}), match="declares")
    refused(torch_zip(pickled, {}), match="missing")


def test_save_refuses_what_it_cannot_store():
    with pytest.raises(TypeError, match="cannot store a object"):
        saved({"x": object()})
    with pytest.raises(ValueError, match="format"):
        saved({}, format="pickle")


def _cnn(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(3 * 4 * 4, 5))


@pytest.mark.parametrize("fmt", ["ember", "torch"])
def test_model_state_dicts_move_between_ember_and_torch_models(tmp_path, fmt):
    """A trained-ish model's state_dict (parameters and BatchNorm buffers) saved by either
    library loads into the other library's model (load_state_dict, strict) and gives the
    same outputs."""
    x = np.linspace(-1, 1, 2 * 36, dtype=np.float32).reshape(2, 1, 6, 6)
    torch.manual_seed(1)
    t_model = _cnn(torch)
    t_model(torch.tensor(x) * 3)  # moves the running statistics
    t_model.eval()
    torch.save(t_model.state_dict(), tmp_path / "from_torch.pt")
    e_model = _cnn(ember)
    result = e_model.load_state_dict(ember.load(tmp_path / "from_torch.pt"))
    assert repr(result) == "<All keys matched successfully>"
    e_model.eval()
    np.testing.assert_allclose(e_model(ember.tensor(x)).detach().numpy(),
                               t_model(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)

    # ember changes the weights, saves them; torch's model loads them
    e_model.train()
    e_model(ember.tensor(x) - 1)
    with ember.no_grad():
        e_model[0].weight.mul_(-0.5)
    e_model.eval()
    ember.save(e_model.state_dict(), tmp_path / "from_ember", format=fmt)
    state = (ember.load(tmp_path / "from_ember") if fmt == "ember"
             else torch.load(tmp_path / "from_ember", weights_only=True))
    if fmt == "ember":
        state = OrderedDict((k, torch.tensor(v.numpy())) for k, v in state.items())
    back = _cnn(torch)
    back.load_state_dict(state)
    back.eval()
    assert [str(v.dtype) for v in back.state_dict().values()] == [
        str(v.dtype) for v in e_model.state_dict().values()]
    np.testing.assert_allclose(back(torch.tensor(x)).detach().numpy(),
                               e_model(ember.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_training_checkpoints_move_between_torch_and_ember():
    """A checkpoint dict (model, optimizer and scheduler state, epoch) saved by torch resumes
    training in ember on torch's path, and ember's checkpoint (torch format) loads in torch."""
    torch.manual_seed(0)
    t_model = torch.nn.Linear(3, 2)
    t_opt = torch.optim.Adam(t_model.parameters(), lr=0.01, amsgrad=True)
    t_sched = torch.optim.lr_scheduler.StepLR(t_opt, 2)
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)

    def t_step():
        t_opt.zero_grad()
        t_model(torch.tensor(x)).pow(2).sum().backward()
        t_opt.step()
        t_sched.step()

    for _ in range(3):
        t_step()
    buffer = io.BytesIO()
    torch.save({"model": t_model.state_dict(), "optim": t_opt.state_dict(),
                "sched": t_sched.state_dict(), "epoch": 3}, buffer)
    checkpoint = loaded(buffer.getvalue())
    assert checkpoint["epoch"] == 3
    e_model = ember.nn.Linear(3, 2)
    e_model.load_state_dict(checkpoint["model"])
    e_opt = ember.optim.Adam(e_model.parameters(), lr=0.01, amsgrad=True)
    e_opt.load_state_dict(checkpoint["optim"])
    e_sched = ember.optim.lr_scheduler.StepLR(e_opt, 2)
    e_sched.load_state_dict(checkpoint["sched"])
    for _ in range(4):
        t_step()
        e_opt.zero_grad()
        e_model(ember.tensor(x)).pow(2).sum().backward()
        e_opt.step()
        e_sched.step()
        assert e_sched.get_last_lr() == t_sched.get_last_lr()
        np.testing.assert_allclose(e_model.weight.detach().numpy(),
                                   t_model.weight.detach().numpy(), rtol=1e-6, atol=1e-7)
    back = torch.load(io.BytesIO(saved({"model": e_model.state_dict(),
                                        "optim": e_opt.state_dict(),
                                        "sched": e_sched.state_dict()}, format="torch")),
                      weights_only=True)
    assert back["optim"]["param_groups"] == t_opt.state_dict()["param_groups"]
    fresh = torch.optim.Adam(t_model.parameters(), lr=0.01, amsgrad=True)
    fresh.load_state_dict(back["optim"])
    t_model.load_state_dict(back["model"])
    for key, value in t_opt.state_dict()["state"][0].items():
        np.testing.assert_allclose(fresh.state_dict()["state"][0][key].numpy(), value.numpy(),
                                   rtol=1e-6, atol=1e-7)
