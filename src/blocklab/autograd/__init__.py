"""blocklab.autograd: a from-scratch reverse-mode autograd engine on numpy, and a GPT on it.

    from blocklab.autograd import Tensor, no_grad, functional as F
    x = Tensor(np.random.randn(3, 4), requires_grad=True)
    y = F.softmax(x @ w, dim=-1)
    y.backward(np.ones_like(y.data))
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
