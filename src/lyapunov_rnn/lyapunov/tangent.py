"""The per-cell interface of the engine: a map, its Jacobian applied to tangent vectors, and the registry.

A driven recurrent network is the map ``s_t = F(s_{t-1}, x_t)`` on its state
``s``, stored as a tuple of components (``(h,)``, ``(h, c)`` for LSTM,
``(y, z)`` for coRNN), each (B, N_c). A :class:`TangentMap` implements
:meth:`~TangentMap.advance` (the map) and applies ``J_t = dF/ds`` to tangent
vectors stored as rows (B, k, D), D = sum of the component sizes, columns in
component order: :meth:`~TangentMap.push_forward` returns ``rows @ J^T``
(the tangent dynamics) and :meth:`~TangentMap.pull_back` ``rows @ J`` (the
transposed map of the reference convention, which
:meth:`~TangentMap.reference_pull_back` restricts to the leading
:attr:`~TangentMap.reference_size` coordinates). They default to autograd on
the flattened state, so a new cell needs :meth:`~TangentMap.advance` only;
analytic overrides are a matter of speed.

Maps are found by the type of the ``nn.Module`` (:func:`register_tangent_map`,
:func:`tangent_map_for`); a step function ``f(x_t, state) -> state`` becomes a
:class:`StepFunctionMap`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import Tensor, nn
from torch.func import jvp, vjp, vmap

from lyapunov_rnn.models import SequenceModel

__all__ = ["State", "StepFunction", "StepFunctionMap", "TangentMap", "register_tangent_map", "tangent_map_for"]

State = tuple[Tensor, ...]
StepFunction = Callable[[Tensor, Tensor], Tensor]


class TangentMap(ABC):
    """A recurrent map with its Jacobian applied to row-stored tangent vectors.

    Subclasses set :attr:`component_sizes` and implement :meth:`advance`;
    everything else has a default: :meth:`drive` (identity),
    :meth:`push_forward` and :meth:`pull_back` (autograd),
    :attr:`reference_size` (the full state) and :meth:`reference_pull_back`
    (:meth:`pull_back` restricted to it). A map registered for a module type with
    :func:`register_tangent_map` is constructed as ``cls(module, dtype,
    device)`` and should keep copies of the module's weights in ``dtype`` on
    ``device``: the engine computes in ``dtype`` and leaves the module as it is.

    Attributes
    ----------
    component_sizes : tuple of int
        Sizes of the state components, in the order of the state tuple and of
        the columns of the tangent rows, e.g. ``(N,)``, ``(N, N)`` for LSTM
        ``(h, c)`` or coRNN ``(y, z)``.
    """

    component_sizes: tuple[int, ...]

    @property
    def state_size(self) -> int:
        """Dimension D of the full state (the tangent space of the Benettin convention)."""
        return sum(self.component_sizes)

    @property
    def reference_size(self) -> int | None:
        """Leading state coordinates whose Jacobian block the reference convention propagates.

        The full state by default. ``N`` for LSTM: the reference code's
        Jacobian ``dh_t / dh_{t-1}`` with ``c`` held fixed is the top-left
        N x N block of the full Jacobian. ``None`` where the reference
        convention is not defined (a multi-layer stack).
        """
        return self.state_size

    def drive(self, inputs: Tensor) -> Tensor:
        """Per-step input term for all steps at once.

        Parameters
        ----------
        inputs : Tensor
            (B, T, ...) inputs in the compute dtype.

        Returns
        -------
        Tensor
            (B, T, ...): step ``t`` of it is the ``drive_t`` passed to the
            other methods. The inputs themselves by default; the built-in
            cells return the input projection ``x W_ih^T + b``, one GEMM for
            the whole sequence.
        """
        return inputs

    @abstractmethod
    def advance(self, drive_t: Tensor, state: State) -> State:
        """Next state ``F(state, x_t)``.

        Parameters
        ----------
        drive_t : Tensor
            Step ``t`` of :meth:`drive`, (B, ...).
        state : tuple of Tensor
            Components, each (B, N_c).

        Returns
        -------
        tuple of Tensor
            The next state, same shapes.
        """

    def push_forward(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        """``rows @ J^T`` (``J`` applied to every tangent vector) and the next state.

        Parameters
        ----------
        drive_t : Tensor
            Step ``t`` of :meth:`drive`.
        state : tuple of Tensor
            Components, each (B, N_c).
        rows : Tensor
            (B, k, D) tangent vectors as rows.

        Returns
        -------
        tuple
            (B, k, D) pushed rows and the next state.

        Notes
        -----
        Default: forward-mode autograd (``torch.func.jvp``) of :meth:`advance`
        on the flattened state, vectorised over the k rows with ``vmap``.
        """

        def along(vector: Tensor) -> tuple[Tensor, Tensor]:
            return jvp(self._flat_step(drive_t), (_join(state),), (vector,))

        flat_next, pushed = vmap(along, in_dims=1, out_dims=(None, 1))(rows)
        return pushed, _split(flat_next, self.component_sizes)

    def pull_back(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        """``rows @ J`` (``J^T`` applied to every tangent vector) and the next state.

        Same arguments and shapes as :meth:`push_forward`. Default:
        reverse-mode autograd (``torch.func.vjp``) of :meth:`advance` on the
        flattened state, vectorised over the k rows with ``vmap``.
        """
        flat_next, pull = vjp(self._flat_step(drive_t), _join(state))
        pulled = vmap(lambda vector: pull(vector)[0], in_dims=1, out_dims=1)(rows)
        return pulled, _split(flat_next, self.component_sizes)

    def reference_pull_back(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        """``rows @ J[:m, :m]`` for the leading ``m = reference_size`` coordinates, and the next state.

        Parameters
        ----------
        drive_t : Tensor
            Step ``t`` of :meth:`drive`.
        state : tuple of Tensor
            Components, each (B, N_c).
        rows : Tensor
            (B, k, m) rows.

        Returns
        -------
        tuple
            (B, k, m) pulled-back rows and the next state.

        Raises
        ------
        ValueError
            If ``reference_size`` is None (no reference block).

        Notes
        -----
        Default: :meth:`pull_back` itself when ``m`` is the full state;
        otherwise the rows are padded with zeros to the full state, pulled
        back and cut to their first ``m`` columns, since
        ``([r, 0] @ J)[:, :m] == r @ J[:m, :m]``. A map overrides it where the
        block has a cheaper form (LSTM: the hidden-only product, without the
        ``c`` half).
        """
        size = self.reference_size
        if size is None:
            raise ValueError(f"{type(self).__name__} has no reference block (reference_size is None)")
        if size == self.state_size:
            return self.pull_back(drive_t, state, rows)
        padded = rows.new_zeros(*rows.shape[:-1], self.state_size)
        padded[..., :size] = rows
        pulled, state_next = self.pull_back(drive_t, state, padded)
        return pulled[..., :size], state_next

    def _flat_step(self, drive_t: Tensor) -> Callable[[Tensor], Tensor]:
        """:meth:`advance` at ``drive_t`` as a function of the (B, D) flattened state."""

        def step(flat: Tensor) -> Tensor:
            return _join(self.advance(drive_t, _split(flat, self.component_sizes)))

        return step


def _join(state: State) -> Tensor:
    """Components -> (B, D); a single component is passed through as it is (no copy)."""
    return state[0] if len(state) == 1 else torch.cat(state, dim=-1)


def _split(flat: Tensor, sizes: tuple[int, ...]) -> State:
    """(B, D) -> components of ``sizes`` (views of ``flat``)."""
    return (flat,) if len(sizes) == 1 else tuple(flat.split(list(sizes), dim=-1))


class StepFunctionMap(TangentMap):
    """Any ``f(x_t, state) -> state`` on a (B, D) state, differentiated by autograd.

    Parameters
    ----------
    step : callable
        ``f(x_t, state)``: ``x_t`` is step ``t`` of the inputs, ``state``
        and the result are (B, D).
    state_size : int
        D.
    """

    def __init__(self, step: StepFunction, state_size: int) -> None:
        self.step = step
        self.component_sizes = (state_size,)

    def advance(self, drive_t: Tensor, state: State) -> State:
        return (self.step(drive_t, state[0]),)


MapFactory = Callable[[nn.Module, torch.dtype, torch.device], TangentMap]
_Factory = TypeVar("_Factory", bound=MapFactory)
_REGISTRY: dict[type[nn.Module], MapFactory] = {}


def register_tangent_map(module_type: type[nn.Module]) -> Callable[[_Factory], _Factory]:
    """Class decorator: use the decorated map for modules of ``module_type`` and its subclasses.

    Parameters
    ----------
    module_type : type
        A subclass of ``nn.Module``. A later registration for the same type
        replaces the earlier one.

    Returns
    -------
    callable
        The decorator; it returns the class unchanged. Any callable
        ``factory(module, dtype, device) -> TangentMap`` can be registered
        the same way (the built-in PyTorch RNNs register one that builds a
        single layer or a stack).

    Examples
    --------
    >>> @register_tangent_map(MyCell)  # doctest: +SKIP
    ... class MyCellMap(TangentMap):
    ...     def __init__(self, cell, dtype, device):
    ...         self.weight_ih = cell.weight_ih.detach().to(device=device, dtype=dtype, copy=True)
    ...         self.weight_hh = cell.weight_hh.detach().to(device=device, dtype=dtype, copy=True)
    ...         self.component_sizes = (cell.hidden_size,)
    ...
    ...     def advance(self, x_t, state):
    ...         return (torch.tanh(x_t @ self.weight_ih.T + state[0] @ self.weight_hh.T),)
    """
    if not (isinstance(module_type, type) and issubclass(module_type, nn.Module)):
        raise TypeError(f"register_tangent_map needs an nn.Module subclass, got {module_type!r}")

    def register(factory: _Factory) -> _Factory:
        _REGISTRY[module_type] = factory
        return factory

    return register


def _recurrent_module(model: nn.Module) -> nn.Module:
    """The recurrent part of ``model``: ``model.rnn`` for a :class:`SequenceModel`, else ``model``."""
    return model.rnn if isinstance(model, SequenceModel) else model


def tangent_map_for(module: nn.Module, dtype: torch.dtype, device: torch.device) -> TangentMap:
    """The registered map of ``module`` (a :class:`SequenceModel`'s ``.rnn``), with its weights in ``dtype``.

    Parameters
    ----------
    module : nn.Module
        An instance of a registered type or of a subclass of one (looked up
        along the method resolution order), or a ``SequenceModel``.
    dtype : torch.dtype
        Compute dtype of the copied weights.
    device : torch.device
        Device of the copied weights.

    Raises
    ------
    TypeError
        If no map is registered for the module's type or its bases.
    ValueError
        If the map rejects the module (e.g. a bidirectional ``nn.LSTM``).
    """
    module = _recurrent_module(module)
    for module_type in type(module).__mro__:
        factory = _REGISTRY.get(module_type)
        if factory is not None:
            return factory(module, dtype, device)
    registered = ", ".join(module_type.__name__ for module_type in _REGISTRY)
    raise TypeError(
        f"unsupported model type {type(module).__name__}; expected one of the registered types ({registered}), "
        "a SequenceModel or a step function f(x_t, state) -> state; see register_tangent_map"
    )


def _tensor_copy(tensor: Tensor, dtype: torch.dtype, device: torch.device) -> Tensor:
    """A detached copy of a weight in the compute dtype, on ``device``."""
    return tensor.detach().to(device=device, dtype=dtype, copy=True)
