"""Devices, ``ember.cuda`` and ``ember.backends`` against a CPU-only torch build.

ember computes on the CPU only. Programs written for GPUs must still run when they pick the
device with ``torch.cuda.is_available()``, and fail as CPU-only torch fails when they insist.
"""

from __future__ import annotations

import pytest

from differential import check

DEVICE_PROGRAMS = {
    "pick_device": lambda lib: str(lib.device("cuda" if lib.cuda.is_available() else "cpu")),
    "repr_cpu": lambda lib: repr(lib.device("cpu")),
    "repr_cuda_index": lambda lib: (repr(lib.device("cuda", 0)), str(lib.device("cuda:1"))),
    "copy_device": lambda lib: repr(lib.device(lib.device("cuda:2"))),
    "device_equality": lambda lib: (lib.device("cpu") == lib.device("cpu"),
                                    lib.device("cpu") == "cpu",
                                    lib.device("cuda:0") == lib.device("cuda"),
                                    lib.device("cuda:0") == lib.device("cuda", 0)),
    "tensor_device": lambda lib: (str(lib.zeros(2).device), lib.zeros(2).is_cuda,
                                  lib.zeros(2).device == lib.device("cpu")),
    "unknown_type": lambda lib: lib.device("gpu"),
    "bad_index": lambda lib: lib.device("cuda:x"),
    "leading_zero_index": lambda lib: lib.device("cuda:01"),
    "index_twice": lambda lib: lib.device("cuda:0", 1),
    "int_device": lambda lib: lib.zeros(2, device=0),
    "factory_cpu": lambda lib: (lib.ones(2, device="cpu")
                                + lib.tensor([1.0], device=lib.device("cpu"))),
    "factory_cuda": lambda lib: lib.zeros(2, device="cuda"),
    "randn_cuda": lambda lib: lib.randn(2, device="cuda"),
    "tensor_cuda": lambda lib: lib.tensor([1.0], device="cuda:0"),
    "to_cpu": lambda lib: lib.arange(3.0).to("cpu"),
    "to_cpu_dtype_flags": lambda lib: lib.arange(3.0).to("cpu", lib.float64, False, True),
    "to_cuda": lambda lib: lib.arange(3.0).to("cuda"),
    "to_cuda_device_kw": lambda lib: lib.arange(3.0).to(device=lib.device("cuda"),
                                                         dtype=lib.float64),
    "tensor_cuda_method": lambda lib: lib.arange(3.0).cuda(),
    "to_xpu": lambda lib: lib.arange(3.0).to("xpu"),
    "module_to_cpu": lambda lib: lib.nn.Linear(2, 2).to("cpu").weight.shape,
    "module_to_cuda": lambda lib: lib.nn.Linear(2, 2).to("cuda"),
    "module_cuda": lambda lib: lib.nn.Linear(2, 2).cuda(),
    "new_zeros_cuda": lambda lib: lib.zeros(1).new_zeros(2, device="cuda"),
}


@pytest.mark.parametrize("name", DEVICE_PROGRAMS)
def test_device_program(name):
    check(DEVICE_PROGRAMS[name])


CUDA_QUERIES = ["is_available", "device_count", "is_initialized", "is_bf16_supported",
                "empty_cache", "memory_allocated", "max_memory_allocated", "seed", "seed_all",
                "current_device", "get_device_name", "get_device_capability", "get_rng_state",
                "initial_seed", "synchronize"]


@pytest.mark.parametrize("name", CUDA_QUERIES)
def test_cuda_module(name):
    check(lambda lib: getattr(lib.cuda, name)())


def test_cuda_seeding_is_harmless():
    check(lambda lib: (lib.cuda.manual_seed(0), lib.cuda.manual_seed_all(1)))


def test_backends_flags():
    def program(lib):
        lib.backends.cudnn.deterministic = True
        lib.backends.cudnn.benchmark = False
        flags = (lib.backends.cudnn.deterministic, lib.backends.cudnn.is_available(),
                 lib.backends.mps.is_available(), lib.backends.mps.is_built())
        lib.backends.cudnn.deterministic = False
        return flags

    check(program)
