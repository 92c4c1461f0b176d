"""blocklab.autograd: a from-scratch reverse-mode autograd engine on numpy, and a GPT on it.

    tensor.py      Tensor (float32/float64), backward(), no_grad
    ops_math.py    + - * / pow neg, matmul (1-D to n-D), sum, mean, max, exp, log, sqrt, tanh, relu
    ops_shape.py   reshape, transpose, permute, indexing, concat, split, masked_fill, where
    functional.py  linear, layer_norm, gelu, softmax, log_softmax, cross_entropy, embedding, dropout
    module.py      Module, Parameter, ModuleList, state_dict
    layers.py      Linear, Embedding, LayerNorm, Dropout, MultiHeadAttention, FeedForward
    gpt.py         GPT from a blocklab.nn GPTConfig, with the same parameter names
    convert.py     weights to and from blocklab.nn's GPT and safetensors files
    optim.py       SGD, Adam, AdamW, clip_grad_norm
    train.py       fit / evaluate on token windows with blocklab.train's TrainConfig
    gradcheck.py   finite-difference gradient checks
    tokenizer.py   CharTokenizer
    bench.py       step time against PyTorch (bench_engine)

    x = Tensor(np.random.randn(3, 4), requires_grad=True)
    y = functional.softmax(x @ w, dim=-1)
    y.backward(np.random.randn(*y.shape))
    x.grad  # a numpy array
"""
from . import functional
from .gpt import GPT, check_config
from .module import Module, ModuleList, Parameter
from .tensor import Tensor, is_grad_enabled, no_grad, unbroadcast

__all__ = [
    "GPT", "Module", "ModuleList", "Parameter", "Tensor", "check_config", "functional", "is_grad_enabled",
    "no_grad", "unbroadcast",
]
