"""Recurrent layers RNN, LSTM and GRU (multi-layer, bidirectional, batch_first, dropout
between layers) and their single-step cells, built from ember ops.

The input projection of every time step is one matmul over the whole sequence; the loop over
time then does one small matmul and the gate arithmetic per step. Parameters are named,
shaped, ordered and initialised exactly as torch's, so state dicts interchange.
"""

from __future__ import annotations

import math
import numbers
import warnings

import ember
from ember import _creation as C
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.nn import init
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    out = ember.matmul(x, weight.t())
    return out if bias is None else out + bias


def _rnn_step(mode: str, gi: Tensor, h, w_hh: Tensor, b_hh: Tensor | None, hidden: int,
              w_hr: Tensor | None = None):
    """One time step given the input part ``gi`` of the gates; returns the new state."""
    if mode == "LSTM":
        h, c = h
        gates = gi + _linear(h, w_hh, b_hh)
        i = ember.sigmoid(gates[:, :hidden])
        f = ember.sigmoid(gates[:, hidden:2 * hidden])
        g = ember.tanh(gates[:, 2 * hidden:3 * hidden])
        o = ember.sigmoid(gates[:, 3 * hidden:])
        c = f * c + i * g
        h = o * ember.tanh(c)
        if w_hr is not None:
            h = ember.matmul(h, w_hr.t())
        return h, c
    if mode == "GRU":
        gh = _linear(h, w_hh, b_hh)
        r = ember.sigmoid(gi[:, :hidden] + gh[:, :hidden])
        z = ember.sigmoid(gi[:, hidden:2 * hidden] + gh[:, hidden:2 * hidden])
        n = ember.tanh(gi[:, 2 * hidden:] + r * gh[:, 2 * hidden:])
        return (1 - z) * n + z * h
    pre = gi + _linear(h, w_hh, b_hh)
    return ember.tanh(pre) if mode == "RNN_TANH" else ember.relu(pre)


class RNNBase(Module):
    """Holds the per-layer, per-direction weights and runs the recurrence."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        if (not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1
                or isinstance(dropout, bool)):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                "dropout expects num_layers greater than 1, but got "
                f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(
                f"batch_first should be of type bool, got: {type(batch_first).__name__}")
        if not isinstance(input_size, int):
            raise TypeError(
                f"input_size should be of type int, got: {type(input_size).__name__}")
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        if not isinstance(hidden_size, int):
            raise TypeError(
                f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError(
                "proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        real_hidden = proj_size if proj_size > 0 else hidden_size
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input = input_size if layer == 0 else real_hidden * num_directions
                params = [C.empty(gate_size, layer_input, dtype=dtype),
                          C.empty(gate_size, real_hidden, dtype=dtype)]
                names = ["weight_ih_l{}{}", "weight_hh_l{}{}"]
                if bias:
                    params += [C.empty(gate_size, dtype=dtype), C.empty(gate_size, dtype=dtype)]
                    names += ["bias_ih_l{}{}", "bias_hh_l{}{}"]
                if proj_size > 0:
                    params.append(C.empty(proj_size, hidden_size, dtype=dtype))
                    names.append("weight_hr_l{}{}")
                suffix = "_reverse" if direction == 1 else ""
                names = [n.format(layer, suffix) for n in names]
                for name, p in zip(names, params):
                    setattr(self, name, Parameter(p))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, n, None) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """Nothing to do on the CPU (kept for programs written for cuDNN)."""

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ----- checks (torch's messages) ------------------------------------------------------
    def check_input(self, input: Tensor) -> None:
        weight = getattr(self, self._flat_weights_names[0])
        if input.dtype != weight.dtype:
            raise ValueError(
                f"RNN input dtype ({input.dtype}) does not match weight dtype ({weight.dtype}). "
                f"Convert input: input.to({weight.dtype}), or convert model: "
                f"model.to({input.dtype})")
        if input.dim() != 3:
            raise RuntimeError(f"input must have 3 dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError("input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.size(-1)}")

    def _expected_hidden(self, input: Tensor, size: int) -> tuple[int, int, int]:
        batch = input.size(0) if self.batch_first else input.size(1)
        return (self.num_layers * (2 if self.bidirectional else 1), batch, size)

    @staticmethod
    def check_hidden_size(hx: Tensor, expected: tuple, msg: str = "Expected hidden size {}, "
                          "got {}") -> None:
        if hx.size() != expected:
            raise RuntimeError(msg.format(expected, list(hx.size())))

    # ----- the recurrence -----------------------------------------------------------------
    def _run(self, input: Tensor, hx):
        """``input`` is (seq, batch, feature); ``hx`` the stacked initial state(s)."""
        lstm = self.mode == "LSTM"
        num_directions = 2 if self.bidirectional else 1
        seq_len = input.size(0)
        finals_h, finals_c = [], []
        layer_input = input
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(num_directions):
                idx = layer * num_directions + direction
                names = self._all_weights[idx]
                params = {n.split("_l")[0]: getattr(self, n) for n in names}
                w_ih, w_hh = params["weight_ih"], params["weight_hh"]
                b_ih, b_hh = params.get("bias_ih"), params.get("bias_hh")
                w_hr = params.get("weight_hr")
                state = (hx[0][idx], hx[1][idx]) if lstm else hx[idx]
                gi_all = _linear(layer_input, w_ih, b_ih)
                steps = range(seq_len - 1, -1, -1) if direction == 1 else range(seq_len)
                outs = [None] * seq_len
                for t in steps:
                    state = _rnn_step(self.mode, gi_all[t], state, w_hh, b_hh,
                                      self.hidden_size, w_hr)
                    outs[t] = state[0] if lstm else state
                outputs.append(ember.stack(outs, 0) if seq_len else
                               C.zeros(0, input.size(1), (state[0] if lstm else state).size(-1),
                                       dtype=input.dtype))
                if lstm:
                    finals_h.append(state[0])
                    finals_c.append(state[1])
                else:
                    finals_h.append(state)
            layer_output = outputs[0] if num_directions == 1 else ember.cat(outputs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_output = F.dropout(layer_output, self.dropout, True)
            layer_input = layer_output
        h_n = ember.stack(finals_h, 0)
        if lstm:
            return layer_input, (h_n, ember.stack(finals_c, 0))
        return layer_input, h_n

    def _run_packed(self, data: Tensor, sizes: list[int], hx):
        """The recurrence over packed data: at step t only the first ``sizes[t]`` sequences
        are still running; a sequence's final state is taken when it stops."""
        lstm = self.mode == "LSTM"
        num_directions = 2 if self.bidirectional else 1
        starts = [0]
        for b in sizes[:-1]:
            starts.append(starts[-1] + b)
        steps = len(sizes)

        def rows(state, lo, hi):
            return tuple(x[lo:hi] for x in state) if lstm else state[lo:hi]

        def size_of(state) -> int:
            return (state[0] if lstm else state).size(0)

        def join(parts):
            if lstm:
                return tuple(ember.cat([p[i] for p in parts], 0) for i in range(2))
            return ember.cat(parts, 0)

        finals = []
        layer_input = data
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(num_directions):
                idx = layer * num_directions + direction
                params = {n.split("_l")[0]: getattr(self, n) for n in self._all_weights[idx]}
                w_hh, b_hh = params["weight_hh"], params.get("bias_hh")
                w_hr = params.get("weight_hr")
                init = (hx[0][idx], hx[1][idx]) if lstm else hx[idx]
                gi_all = _linear(layer_input, params["weight_ih"], params.get("bias_ih"))
                outs = [None] * steps
                if direction == 0:
                    state, finished = init, []
                    for t in range(steps):
                        b = sizes[t]
                        if b < size_of(state):
                            finished.append(rows(state, b, size_of(state)))
                            state = rows(state, 0, b)
                        state = _rnn_step(self.mode, gi_all[starts[t]:starts[t] + b], state,
                                          w_hh, b_hh, self.hidden_size, w_hr)
                        outs[t] = state[0] if lstm else state
                    final = join([state, *finished[::-1]]) if finished else state
                else:
                    state = None
                    for t in range(steps - 1, -1, -1):
                        b = sizes[t]
                        have = 0 if state is None else size_of(state)
                        if b > have:
                            extra = rows(init, have, b)
                            state = extra if state is None else join([state, extra])
                        state = _rnn_step(self.mode, gi_all[starts[t]:starts[t] + b], state,
                                          w_hh, b_hh, self.hidden_size, w_hr)
                        outs[t] = state[0] if lstm else state
                    final = state
                outputs.append(ember.cat(outs, 0))
                finals.append(final)
            layer_output = outputs[0] if num_directions == 1 else ember.cat(outputs, 1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_output = F.dropout(layer_output, self.dropout, True)
            layer_input = layer_output
        if lstm:
            return layer_input, (ember.stack([f[0] for f in finals], 0),
                                 ember.stack([f[1] for f in finals], 0))
        return layer_input, ember.stack(finals, 0)

    def _forward_packed(self, packed, hx):
        from ember.nn.utils.rnn import PackedSequence

        lstm = self.mode == "LSTM"
        data, batch_sizes, sorted_indices, unsorted_indices = packed
        sizes = [int(b) for b in batch_sizes._array]
        batch = sizes[0]
        layers = self.num_layers * (2 if self.bidirectional else 1)
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        if hx is None:
            h0 = C.zeros(layers, batch, real_hidden, dtype=data.dtype)
            hx = (h0, C.zeros(layers, batch, self.hidden_size, dtype=data.dtype)) if lstm else h0
        elif sorted_indices is not None:
            hx = (tuple(h.index_select(1, sorted_indices) for h in hx) if lstm
                  else hx.index_select(1, sorted_indices))
        weight = getattr(self, self._flat_weights_names[0])
        if data.dtype != weight.dtype:
            raise ValueError(
                f"RNN input dtype ({data.dtype}) does not match weight dtype ({weight.dtype}). "
                f"Convert input: input.to({weight.dtype}), or convert model: "
                f"model.to({data.dtype})")
        if data.dim() != 2:
            raise RuntimeError(f"input must have 2 dimensions, got {data.dim()}")
        if self.input_size != data.size(-1):
            raise RuntimeError("input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {data.size(-1)}")
        if lstm:
            self.check_hidden_size(hx[0], (layers, batch, real_hidden),
                                   "Expected hidden[0] size {}, got {}")
            self.check_hidden_size(hx[1], (layers, batch, self.hidden_size),
                                   "Expected hidden[1] size {}, got {}")
        else:
            self.check_hidden_size(hx, (layers, batch, real_hidden))
        output, hidden = self._run_packed(data, sizes, hx)
        if unsorted_indices is not None:
            hidden = (tuple(h.index_select(1, unsorted_indices) for h in hidden) if lstm
                      else hidden.index_select(1, unsorted_indices))
        return PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices), hidden

    def _forward(self, input: Tensor, hx):
        if type(input).__name__ == "PackedSequence":
            return self._forward_packed(input, hx)
        lstm = self.mode == "LSTM"
        name = "LSTM" if lstm else ("GRU" if self.mode == "GRU" else "RNN")
        if input.dim() not in (2, 3):
            suffix = "D instead" if lstm else "D tensor instead"
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}{suffix}")
        is_batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not is_batched:
            input = input.unsqueeze(batch_dim)
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        batch = input.size(0) if self.batch_first else input.size(1)
        layers = self.num_layers * (2 if self.bidirectional else 1)
        if hx is None:
            h0 = C.zeros(layers, batch, real_hidden, dtype=input.dtype)
            hx = (h0, C.zeros(layers, batch, self.hidden_size, dtype=input.dtype)) if lstm else h0
        elif lstm:
            want = 3 if is_batched else 2
            if hx[0].dim() != want or hx[1].dim() != want:
                kind = "batched 3-D" if is_batched else "unbatched 2-D"
                raise RuntimeError(
                    f"For {kind} input, hx and cx should also be {want}-D but got "
                    f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
            if not is_batched:
                hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        else:
            if is_batched and hx.dim() != 3:
                raise RuntimeError(
                    f"For batched 3-D input, hx should also be 3-D but got {hx.dim()}-D tensor")
            if not is_batched:
                if hx.dim() != 2:
                    raise RuntimeError("For unbatched 2-D input, hx should also be 2-D but got "
                                       f"{hx.dim()}-D tensor")
                hx = hx.unsqueeze(1)
        self.check_input(input)
        if lstm:
            self.check_hidden_size(hx[0], self._expected_hidden(input, real_hidden),
                                   "Expected hidden[0] size {}, got {}")
            self.check_hidden_size(hx[1], self._expected_hidden(input, self.hidden_size),
                                   "Expected hidden[1] size {}, got {}")
        else:
            self.check_hidden_size(hx, self._expected_hidden(input, real_hidden))
        seq_input = input.transpose(0, 1) if self.batch_first else input
        output, hidden = self._run(seq_input, hx)
        if self.batch_first:
            output = output.transpose(0, 1)
        if not is_batched:
            output = output.squeeze(batch_dim)
            hidden = (hidden[0].squeeze(1), hidden[1].squeeze(1)) if lstm else hidden.squeeze(1)
        return output, hidden


class RNN(RNNBase):
    """Elman RNN: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or ReLU)."""

    def __init__(self, *args, **kwargs) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.__dict__["nonlinearity"] = args[3]
            args = args[:3] + args[4:]
        else:
            self.__dict__["nonlinearity"] = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                             "or 'relu'.")
        nonlinearity = self.nonlinearity
        super().__init__(mode, *args, **kwargs)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None):
        return self._forward(input, hx)


class LSTM(RNNBase):
    """Long short-term memory; ``proj_size`` adds torch's output projection."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def forward(self, input: Tensor, hx=None):
        return self._forward(input, hx)


class GRU(RNNBase):
    """Gated recurrent unit (torch's gate order r, z, n)."""

    def __init__(self, *args, **kwargs) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input: Tensor, hx: Tensor | None = None):
        return self._forward(input, hx)


# ----- cells -------------------------------------------------------------------------------------
class RNNCellBase(Module):
    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(C.empty(num_chunks * hidden_size, input_size, dtype=dtype))
        self.weight_hh = Parameter(C.empty(num_chunks * hidden_size, hidden_size, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(C.empty(num_chunks * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(C.empty(num_chunks * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += f", bias={self.bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _cell(self, mode: str, input: Tensor, hx, name: str):
        if input.dim() not in (1, 2):
            raise ValueError(
                f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
        zeros = C.zeros(input.size(0), self.hidden_size, dtype=input.dtype)
        if mode == "LSTM":
            state = (zeros, zeros) if hx is None else (
                (hx[0], hx[1]) if is_batched else (hx[0].unsqueeze(0), hx[1].unsqueeze(0)))
        else:
            state = zeros if hx is None else (hx if is_batched else hx.unsqueeze(0))
        gi = _linear(input, self.weight_ih, self.bias_ih)
        out = _rnn_step(mode, gi, state, self.weight_hh, self.bias_hh, self.hidden_size)
        if not is_batched:
            out = (out[0].squeeze(0), out[1].squeeze(0)) if mode == "LSTM" else out.squeeze(0)
        return out


class RNNCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return self._cell(mode, input, hx, "RNNCell")


class LSTMCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, dtype=dtype)

    def forward(self, input: Tensor, hx=None):
        return self._cell("LSTM", input, hx, "LSTMCell")


class GRUCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._cell("GRU", input, hx, "GRUCell")
