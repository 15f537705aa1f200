"""ember.nn's recurrent layers, attention and transformer against torch: default init bit for
bit, parameter names/order, repr, outputs and gradients (inputs, initial states, weights),
and misuse errors."""

from __future__ import annotations

import warnings

import pytest

from differential import check

EXACT = {"rtol": 0, "atol": 0}
CLOSE = {"rtol": 1e-4, "atol": 1e-5}

RNN_CONFIGS = [
    {}, {"num_layers": 2}, {"bidirectional": True}, {"batch_first": True},
    {"num_layers": 3, "bidirectional": True, "batch_first": True}, {"bias": False},
    {"num_layers": 2, "dropout": 0.0},
]


def _tensors(out):
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _tensors(o)]
    return [out] if out is not None else []


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("cfg", RNN_CONFIGS, ids=str)
@pytest.mark.parametrize("with_h0", [False, True])
def test_recurrent_forward_backward(cls, cfg, with_h0):
    def program(lib):
        lib.manual_seed(0)
        m = getattr(lib.nn, cls)(4, 5, **cfg)
        seq, batch = 6, 3
        shape = (batch, seq, 4) if cfg.get("batch_first") else (seq, batch, 4)
        x = lib.randn(*shape, requires_grad=True)
        layers = cfg.get("num_layers", 1) * (2 if cfg.get("bidirectional") else 1)
        hx = None
        leaves = [x]
        if with_h0:
            h0 = lib.randn(layers, batch, 5, requires_grad=True)
            leaves.append(h0)
            if cls == "LSTM":
                c0 = lib.randn(layers, batch, 5, requires_grad=True)
                leaves.append(c0)
                hx = (h0, c0)
            else:
                hx = h0
        out = m(x, hx)
        loss = sum((t * t.detach().cos()).sum() for t in _tensors(out))
        loss.backward()
        return ([t.detach() for t in _tensors(out)], [t.grad for t in leaves],
                [(n, p.grad) for n, p in m.named_parameters()])

    check(program, **CLOSE)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("cfg", RNN_CONFIGS + [{"nonlinearity": "relu"}, {"proj_size": 2}],
                         ids=str)
def test_recurrent_init_names_repr(cls, cfg):
    if "nonlinearity" in cfg and cls != "RNN":
        cfg = {}
    if "proj_size" in cfg and cls != "LSTM":
        cfg = {"num_layers": 2, "bidirectional": True}

    def program(lib):
        lib.manual_seed(4)
        m = getattr(lib.nn, cls)(3, 4, **cfg)
        return (repr(m), list(m.named_parameters()), [len(w) for w in m.all_weights],
                lib.rand(2))

    check(program, **EXACT)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_recurrent_unbatched_and_relu(cls):
    def program(lib):
        lib.manual_seed(1)
        kw = {"nonlinearity": "relu"} if cls == "RNN" else {}
        m = getattr(lib.nn, cls)(3, 4, num_layers=2, **kw)
        x = lib.randn(5, 3, requires_grad=True)
        out = m(x)
        sum(t.sum() for t in _tensors(out)).backward()
        return [t.detach() for t in _tensors(out)], x.grad

    check(program, **CLOSE)


def test_lstm_proj_size():
    def program(lib):
        lib.manual_seed(2)
        m = lib.nn.LSTM(3, 5, proj_size=2, num_layers=2, bidirectional=True)
        x = lib.randn(4, 2, 3, requires_grad=True)
        out, (h, c) = m(x)
        (out.sum() + h.sum() + c.sum()).backward()
        return (out.detach(), h.detach(), c.detach(), x.grad,
                [(n, p.grad) for n, p in m.named_parameters()])

    check(program, **CLOSE)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_dropout_between_layers(cls, bidirectional):
    """Training-mode dropout between layers draws torch's masks; eval mode has none."""

    def program(lib):
        lib.manual_seed(0)
        m = getattr(lib.nn, cls)(3, 4, num_layers=3, dropout=0.5, bidirectional=bidirectional)
        x = lib.randn(5, 2, 3, requires_grad=True)
        out = m(x)
        out[0].sum().backward()
        m.eval()
        out_eval = m(x)
        return ([t.detach() for t in _tensors(out)], x.grad,
                [t.detach() for t in _tensors(out_eval)], lib.rand(2))

    check(program, **CLOSE)


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("unbatched", [False, True])
def test_cells(cls, unbatched):
    def program(lib):
        lib.manual_seed(0)
        m = getattr(lib.nn, cls)(3, 4)
        x = lib.randn(3, requires_grad=True) if unbatched else lib.randn(2, 3,
                                                                           requires_grad=True)
        out = m(x)
        out = m(x, out)
        sum(t.sum() for t in _tensors(out)).backward()
        return (repr(m), [t.detach() for t in _tensors(out)], x.grad,
                [(n, p.grad) for n, p in m.named_parameters()])

    check(program, **CLOSE)


def test_recurrent_errors():
    def program(lib):
        nn = lib.nn
        out = []
        lstm = nn.LSTM(3, 4)
        rnn = nn.RNN(3, 4, num_layers=2)
        for action in (lambda: nn.RNN(3, 4, nonlinearity="sigmoid"),
                       lambda: nn.GRU(3, 4, proj_size=2),
                       lambda: nn.LSTM(3, 4, proj_size=4),
                       lambda: nn.LSTM(3, 4, dropout=2),
                       lambda: nn.LSTM(3, 0),
                       lambda: nn.LSTM(3, 4, num_layers=0),
                       lambda: nn.LSTM(3, 4, bias=1),
                       lambda: lstm(lib.randn(2, 2, 5)),
                       lambda: lstm(lib.randn(2, 2, 2, 3)),
                       lambda: lstm(lib.randn(2, 2, 3, dtype=lib.float64)),
                       lambda: lstm(lib.randn(2, 2, 3), (lib.zeros(1, 3, 4), lib.zeros(1, 2, 4))),
                       lambda: lstm(lib.randn(2, 2, 3), (lib.zeros(2, 4), lib.zeros(2, 4))),
                       lambda: rnn(lib.randn(2, 2, 3), lib.zeros(1, 2, 4)),
                       lambda: rnn(lib.randn(2, 2, 3), lib.zeros(2, 4)),
                       lambda: rnn(lib.randn(2, 3), lib.zeros(2, 1, 4))):
            try:
                action()
                out.append("ok")
            except Exception as e:  # noqa: BLE001
                out.append((type(e).__name__, str(e).split("\n")[0]))
        return out

    check(program)


# ----- attention and transformer ----------------------------------------------------------------
MHA_CONFIGS = [
    {}, {"batch_first": True}, {"bias": False}, {"kdim": 3, "vdim": 5},
    {"add_bias_kv": True}, {"add_zero_attn": True}, {"num_heads": 1},
]


def _mha(lib, cfg):
    cfg = dict(cfg)
    heads = cfg.pop("num_heads", 2)
    return lib.nn.MultiheadAttention(8, heads, **cfg)


@pytest.mark.parametrize("cfg", MHA_CONFIGS, ids=str)
def test_mha_init_repr(cfg):
    def program(lib):
        lib.manual_seed(0)
        m = _mha(lib, cfg)
        return repr(m), list(m.named_parameters()), lib.rand(2)

    check(program, **EXACT)


@pytest.mark.parametrize("cfg", MHA_CONFIGS, ids=str)
@pytest.mark.parametrize("mask", ["none", "bool", "float", "padding", "both", "3d"])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_mha_forward_backward(cfg, mask, need_weights, average):
    def program(lib):
        lib.manual_seed(0)
        m = _mha(lib, cfg)
        T, S, B = 4, 5, 2
        bf = cfg.get("batch_first", False)
        kd, vd = cfg.get("kdim", 8), cfg.get("vdim", 8)
        q = lib.randn(*((B, T, 8) if bf else (T, B, 8)), requires_grad=True)
        k = lib.randn(*((B, S, kd) if bf else (S, B, kd)), requires_grad=True)
        v = lib.randn(*((B, S, vd) if bf else (S, B, vd)), requires_grad=True)
        kw = {}
        extra = 1 if cfg.get("add_bias_kv") else 0
        if mask in ("bool", "both"):
            kw["attn_mask"] = lib.rand(T, S) > 0.7
        if mask == "float":
            kw["attn_mask"] = lib.randn(T, S)
        if mask == "3d":
            kw["attn_mask"] = lib.randn(B * m.num_heads, T, S)
        if mask in ("padding", "both"):
            kpm = lib.zeros(B, S, dtype=lib.bool)
            kpm[0, -1] = True
            kpm[1, 0] = True
            kw["key_padding_mask"] = kpm
        del extra
        out, w = m(q, k, v, need_weights=need_weights, average_attn_weights=average, **kw)
        loss = (out * out).sum() + (0 if w is None else (w * w).sum())
        loss.backward()
        return (out.detach(), None if w is None else w.detach(), q.grad, k.grad, v.grad,
                [(n, p.grad) for n, p in m.named_parameters()])

    check(program, **CLOSE)


def test_mha_self_attention_unbatched_and_errors():
    def program(lib):
        lib.manual_seed(0)
        m = lib.nn.MultiheadAttention(6, 3)
        x = lib.randn(4, 6, requires_grad=True)
        out, w = m(x, x, x)
        out.sum().backward()
        res = [out.detach(), w.detach(), x.grad]
        for action in (lambda: m(x, lib.randn(4, 2, 6), x),
                       lambda: m(lib.randn(4, 2, 5), lib.randn(4, 2, 5), lib.randn(4, 2, 5)),
                       lambda: m(x, x, x, attn_mask=lib.ones(3, 3, dtype=lib.bool)),
                       lambda: m(x, x, x, attn_mask=lib.ones(4, 4, dtype=lib.int64)),
                       lambda: m(x, x, x, is_causal=True),
                       lambda: m(lib.randn(2, 2, 2, 6), x, x)):
            try:
                action()
                res.append("ok")
            except Exception as e:  # noqa: BLE001
                res.append((type(e).__name__, str(e).split("\n")[0]))
        return res

    check(program, **CLOSE)


@pytest.mark.parametrize("cfg", [{}, {"batch_first": True}, {"norm_first": True},
                                 {"activation": "gelu"}, {"bias": False}], ids=str)
def test_transformer_encoder_layer(cfg):
    def program(lib):
        lib.manual_seed(0)
        layer = lib.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, **cfg)
        x = lib.randn(3, 4, 8, requires_grad=True)
        mask = lib.rand(4, 4) > 0.8 if cfg.get("batch_first") else None
        y = layer(x, src_mask=mask)
        (y * y.detach().sin()).sum().backward()
        return (repr(layer), y.detach(), x.grad, list(layer.state_dict()),
                [(n, p.grad) for n, p in layer.named_parameters()])

    check(program, **CLOSE)


def test_transformer_layer_init_and_encoder_stack():
    def program(lib):
        lib.manual_seed(0)
        layer = lib.nn.TransformerEncoderLayer(8, 4, dim_feedforward=12)
        enc = lib.nn.TransformerEncoder(layer, 2, norm=lib.nn.LayerNorm(8),
                                        enable_nested_tensor=False)
        enc.eval()
        x = lib.randn(5, 2, 8)
        with lib.no_grad():
            y = enc(x)
        return (list(layer.named_parameters()), repr(enc), [n for n, _ in enc.named_parameters()],
                y, lib.rand(2))

    check(program, **CLOSE)


def test_transformer_dropout_training_matches_torch_stream():
    def program(lib):
        lib.manual_seed(0)
        layer = lib.nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.3)
        x = lib.randn(3, 2, 4)
        y = layer(x)
        return y.detach(), lib.rand(2)

    check(program, **CLOSE)


@pytest.mark.parametrize("cfg", [{}, {"batch_first": True}, {"norm_first": True},
                                 {"activation": "gelu", "bias": False}], ids=str)
def test_transformer_decoder_layer(cfg):
    def program(lib):
        lib.manual_seed(0)
        layer = lib.nn.TransformerDecoderLayer(8, 2, dim_feedforward=12, dropout=0.0, **cfg)
        tgt = lib.randn(3, 4, 8, requires_grad=True)
        mem = lib.randn(3, 5, 8, requires_grad=True) if cfg.get("batch_first") else \
            lib.randn(5, 4, 8, requires_grad=True)
        T = 4 if cfg.get("batch_first") else 3
        mask = lib.nn.Transformer.generate_square_subsequent_mask(T)
        y = layer(tgt, mem, tgt_mask=mask)
        (y * y.detach().sin()).sum().backward()
        return (repr(layer), mask, y.detach(), tgt.grad, mem.grad,
                [(n, p.grad) for n, p in layer.named_parameters()])

    check(program, **CLOSE)


def test_full_transformer():
    def program(lib):
        lib.manual_seed(0)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            model = lib.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=2,
                                       num_decoder_layers=1, dim_feedforward=16, dropout=0.0)
            lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(8, 2, batch_first=True),
                                      1)
        src = lib.randn(5, 2, 8, requires_grad=True)
        tgt = lib.randn(4, 2, 8, requires_grad=True)
        kpm = lib.zeros(2, 5, dtype=lib.bool)
        kpm[1, -2:] = True
        y = model(src, tgt, tgt_mask=model.generate_square_subsequent_mask(4),
                  src_key_padding_mask=kpm, memory_key_padding_mask=kpm)
        (y * y.detach().cos()).sum().backward()
        out = [repr(model), [str(x.message) for x in w], list(model.named_parameters()),
               y.detach(), src.grad, tgt.grad, [p.grad for p in model.parameters()]]
        for action in (lambda: model(src, lib.randn(4, 3, 8)),
                       lambda: model(src, lib.randn(4, 2, 6))):
            try:
                action()
            except RuntimeError as e:
                out.append(str(e))
        return out

    check(program, **CLOSE)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_attention_dropout_in_training(need_weights, batch_first):
    def program(lib):
        lib.manual_seed(0)
        m = lib.nn.MultiheadAttention(8, 2, dropout=0.3, batch_first=batch_first)
        x = lib.randn(3, 4, 8, requires_grad=True)
        out, w = m(x, x, x, need_weights=need_weights)
        out.sum().backward()
        return out.detach(), None if w is None else w.detach(), x.grad, lib.rand(2)

    check(program, **CLOSE)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("cfg", [{}, {"bidirectional": True, "num_layers": 2},
                                 {"batch_first": True}], ids=str)
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_recurrent_packed_sequences(cls, cfg, enforce_sorted):
    def program(lib):
        rnn_utils = lib.nn.utils.rnn
        lib.manual_seed(0)
        m = getattr(lib.nn, cls)(3, 4, **cfg)
        lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
        bf = cfg.get("batch_first", False)
        x = lib.randn(*((4, 5, 3) if bf else (5, 4, 3)), requires_grad=True)
        packed = rnn_utils.pack_padded_sequence(x, lib.tensor(lengths), batch_first=bf,
                                                enforce_sorted=enforce_sorted)
        out, hidden = m(packed)
        padded, out_lengths = rnn_utils.pad_packed_sequence(out, batch_first=bf)
        loss = (padded * padded).sum() + sum((h * h).sum() for h in _tensors(hidden))
        loss.backward()
        return (packed.data.detach(), packed.batch_sizes, packed.sorted_indices,
                packed.unsorted_indices, out.data.detach(), out.batch_sizes, padded.detach(),
                out_lengths, [h.detach() for h in _tensors(hidden)], x.grad,
                [(n, p.grad) for n, p in m.named_parameters()])

    check(program, **CLOSE)


def test_pack_sequence_and_errors():
    def program(lib):
        rnn_utils = lib.nn.utils.rnn
        lib.manual_seed(0)
        seqs = [lib.randn(4, 2), lib.randn(2, 2), lib.randn(3, 2)]
        packed = rnn_utils.pack_sequence(seqs, enforce_sorted=False)
        padded, lengths = rnn_utils.pad_packed_sequence(packed, batch_first=True,
                                                        total_length=6, padding_value=-1.0)
        out = [packed.data, packed.batch_sizes, packed.sorted_indices, padded, lengths]
        for action in (lambda: rnn_utils.pack_sequence(seqs),
                       lambda: rnn_utils.pad_packed_sequence(packed, total_length=2)):
            try:
                action()
            except Exception as e:  # noqa: BLE001
                out.append((type(e).__name__, str(e).split("\n")[0]))
        return out

    check(program)


@pytest.mark.parametrize("cfg", [{}, {"batch_first": True},
                                 {"norm_first": True, "batch_first": True},
                                 {"activation": "gelu"}], ids=str)
@pytest.mark.parametrize("evaluate", [False, True])
def test_transformer_encoder_key_padding_and_eval(cfg, evaluate):
    """src_key_padding_mask, a causal mask through the stack, and eval mode (where torch
    takes its fused fast path) against torch."""

    def program(lib):
        lib.manual_seed(0)
        layer = lib.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, **cfg)
        stack = lib.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        if evaluate:
            layer.eval()
            stack.eval()
        bf = cfg.get("batch_first", False)
        x = lib.randn(*((2, 5, 8) if bf else (5, 2, 8)), requires_grad=not evaluate)
        pad = lib.zeros(2, 5, dtype=lib.bool)
        pad[0, -2:] = True
        causal = lib.nn.Transformer.generate_square_subsequent_mask(5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y1 = layer(x, src_key_padding_mask=pad)
            y2 = stack(x, mask=causal, is_causal=True)
            y3 = stack(x, src_key_padding_mask=pad)
        out = [y1.detach(), y2.detach(), y3.detach()]
        if not evaluate:
            (y1.sum() + y2.sum() + y3.sum()).backward()
            out.append(x.grad)
        return out

    check(program, **CLOSE)
