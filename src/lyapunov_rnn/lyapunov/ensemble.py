"""Lyapunov spectra of several networks of one architecture and size in one engine run.

:func:`ensemble_spectrum` computes, for G networks (e.g. all checkpoints of a
group of networks) driven by S input sequences each, the G results that G
calls of :func:`~lyapunov_rnn.lyapunov.lyapunov_spectrum` would return, in one
run over a batch of G S sequences: network g's sequences are the rows
``g S`` to ``(g + 1) S - 1`` of every state, tangent and result tensor. The
time loop, the QR factorisations and the accumulation of ``log R_jj`` then
run once for all networks, in batched operations, instead of once per
network, so the fixed cost of a step's thirty-odd small operations is paid
once instead of G times. The floating-point work is the same, and on a CPU a
batched QR is LAPACK's loop over the matrices, so the gain is that fixed
cost: measured on a 2-core CPU (benchmarks/ensemble_spectrum.py, G = 8,
S = 15, T = 28, float64, full spectra), 1.1-1.5x for N = 32 and 0.9-1.1x
for N = 64, where the G-fold working set of a step no longer fits the cache
and the QR dominates.

The tangent map of the ensemble (:func:`stack_tangent_maps`):

* for the built-in cells (``nn.RNN``, ``nn.GRU``, ``nn.LSTM``, one layer or a
  stack, :class:`~lyapunov_rnn.models.AntisymmetricRNN`,
  :class:`~lyapunov_rnn.models.CoupledOscillatoryRNN`) is the cell's own map
  with every weight stacked along a leading network dimension, (G, ...): its
  weight products view the (G S, ...) operands as (G, S, ...) for one batched
  GEMM (:mod:`lyapunov_rnn.lyapunov.numerics`) and the elementwise work is
  shared;
* for a map of another type (a user's registered cell), or for networks whose
  scalar hyperparameters differ (e.g. the ``dt`` of two coRNNs), applies each
  network's own map to its block of the batch in turn: the time loop, the QR
  and the accumulation still run once, only the map products loop over the
  networks.

Results equal those of per-network calls up to rounding (the batched GEMMs
sum in another order): the exponents to a few units of the compute dtype's
precision amplified by the dynamics, the ``resolved`` masks exactly unless an
exponent sits at the resolution floor.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from lyapunov_rnn.lyapunov.project_cells import AntisymmetricMap, CoupledOscillatorMap
from lyapunov_rnn.lyapunov.spectrum import (
    Convention,
    LyapunovResult,
    _batch_first_inputs,
    _module_device,
    lyapunov_spectrum,
)
from lyapunov_rnn.lyapunov.tangent import State, TangentMap, _recurrent_module, register_tangent_map, tangent_map_for
from lyapunov_rnn.lyapunov.torch_rnn import ElmanMap, GRUMap, LSTMMap, StackedMap

__all__ = ["NetworkEnsemble", "ensemble_spectrum", "stack_tangent_maps"]

# Maps whose products accept weights stacked along a leading network dimension.
_STACKABLE_MAPS = (ElmanMap, GRUMap, LSTMMap, AntisymmetricMap, CoupledOscillatorMap)


class NetworkEnsemble(nn.Module):
    """G recurrent modules of one architecture and size, as one module for :func:`lyapunov_spectrum`.

    Its tangent map (registered for this type) is :func:`stack_tangent_maps`
    of the networks' maps; it is fed batch-first inputs (G S, T, I), network
    g's S sequences in rows ``g S`` to ``(g + 1) S - 1``. Built by
    :func:`ensemble_spectrum`.

    Parameters
    ----------
    networks : sequence of nn.Module
        The recurrent modules (a ``SequenceModel``'s ``.rnn``), at least one.
    """

    def __init__(self, networks: Sequence[nn.Module]) -> None:
        super().__init__()
        self.networks = nn.ModuleList(networks)
        self.batch_first = True
        self.input_size = getattr(networks[0], "input_size", None)


@register_tangent_map(NetworkEnsemble)
def _ensemble_map(ensemble: NetworkEnsemble, dtype: torch.dtype, device: torch.device) -> TangentMap:
    return stack_tangent_maps([tangent_map_for(network, dtype, device) for network in ensemble.networks])


def stack_tangent_maps(maps: Sequence[TangentMap]) -> TangentMap:
    """One tangent map for G networks' maps, acting on (G S, ...) batches, network g on rows ``g S`` to ``(g+1) S - 1``.

    Parameters
    ----------
    maps : sequence of TangentMap
        The networks' maps, all of one type and state layout.

    Returns
    -------
    TangentMap
        A map of the same type with every weight stacked (G, ...) where the
        type is a built-in cell's map and the networks' other attributes
        (sizes, ``eps``, ``dt``, ...) are equal; otherwise a map that applies
        each network's own map to its block of the batch.

    Raises
    ------
    ValueError
        If the maps differ in type, state layout or weight shapes (networks
        of different architectures or sizes), or ``maps`` is empty.
    """
    if not maps:
        raise ValueError("an ensemble needs at least one network")
    first = maps[0]
    for other in maps[1:]:
        if type(other) is not type(first) or other.component_sizes != first.component_sizes:
            raise ValueError(
                "the networks of an ensemble must share architecture and size: got maps "
                f"{type(first).__name__}{first.component_sizes} and {type(other).__name__}{other.component_sizes}"
            )
    if isinstance(first, StackedMap):
        # equal component sizes and a common type of layer 0 (checked in the recursion) imply equal depths
        layers = [
            stack_tangent_maps([tangent_map.layers[layer] for tangent_map in maps])
            for layer in range(len(first.layers))
        ]
        if all(type(layer) is type(first.layers[0]) for layer in layers):
            return StackedMap(layers)
        return _PerNetworkMap(maps)
    stacked = _stacked_weights(maps) if type(first) in _STACKABLE_MAPS else None
    return _PerNetworkMap(maps) if stacked is None else stacked


def _stacked_weights(maps: Sequence[TangentMap]) -> TangentMap | None:
    """A copy of ``maps[0]`` with every tensor attribute stacked over the maps; None if another attribute differs."""
    stacked = copy.copy(maps[0])
    for name, value in vars(maps[0]).items():
        values = [vars(tangent_map)[name] for tangent_map in maps]
        tensors = [isinstance(item, Tensor) for item in values]
        if all(tensors):
            shapes = {tuple(item.shape) for item in values}
            if len(shapes) > 1:
                raise ValueError(f"the networks of an ensemble must share their weight shapes: {name} has {shapes}")
            setattr(stacked, name, torch.stack(values))
        elif any(tensors):
            raise ValueError(f"the networks of an ensemble must share their structure: {name} is not set in all")
        elif any(item != value for item in values):
            return None
    return stacked


class _PerNetworkMap(TangentMap):
    """G networks' maps on a (G S, ...) batch, each applied to its block of S rows in turn."""

    def __init__(self, maps: Sequence[TangentMap]) -> None:
        self.maps = tuple(maps)
        self.component_sizes = maps[0].component_sizes

    @property
    def reference_size(self) -> int | None:
        return self.maps[0].reference_size

    def _blocks(self, tensor: Tensor) -> tuple[Tensor, ...]:
        return tensor.chunk(len(self.maps))

    def _state_blocks(self, state: State) -> list[State]:
        return list(zip(*(self._blocks(component) for component in state), strict=True))

    def _joined(self, states: Sequence[State]) -> State:
        return tuple(torch.cat(components) for components in zip(*states, strict=True))

    def drive(self, inputs: Tensor) -> Tensor:
        return torch.cat([part.drive(block) for part, block in zip(self.maps, self._blocks(inputs), strict=True)])

    def advance(self, drive_t: Tensor, state: State) -> State:
        blocks = zip(self.maps, self._blocks(drive_t), self._state_blocks(state), strict=True)
        return self._joined([part.advance(drive_block, state_block) for part, drive_block, state_block in blocks])

    def _apply(self, method: str, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        blocks = zip(self.maps, self._blocks(drive_t), self._state_blocks(state), self._blocks(rows), strict=True)
        results = [getattr(part, method)(*arguments) for part, *arguments in blocks]
        return torch.cat([moved for moved, _ in results]), self._joined([state_next for _, state_next in results])

    def push_forward(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        return self._apply("push_forward", drive_t, state, rows)

    def pull_back(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        return self._apply("pull_back", drive_t, state, rows)

    def reference_pull_back(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        return self._apply("reference_pull_back", drive_t, state, rows)


def ensemble_spectrum(
    models: Sequence[nn.Module],
    inputs: Tensor | Sequence[Tensor],
    *,
    k: int | None = None,
    warmup: int = 0,
    h0: Tensor | None = None,
    qr_every: int = 1,
    dtype: torch.dtype = torch.float64,
    convention: Convention = "benettin",
    keep_finite_time: bool = False,
    keep_vectors: bool = False,
    rounding_check: bool = False,
    progress: bool = False,
) -> list[LyapunovResult]:
    """Lyapunov spectra of G networks of one architecture and size, in one engine run.

    Equal, up to rounding, to ``[lyapunov_spectrum(model, ...) for model in
    models]`` (module docstring), at the cost of about one call for small
    networks.

    Parameters
    ----------
    models : sequence of nn.Module
        G >= 1 modules :func:`~lyapunov_rnn.lyapunov.lyapunov_spectrum`
        accepts (a ``SequenceModel``'s ``.rnn`` is used), of one type, size
        and number of layers, e.g. the checkpoints of one network or a group
        of networks. A step function is not accepted.
    inputs : Tensor or sequence of Tensor
        One tensor in the layout the networks take ((S, T, I), or (T, S, I)
        for ``batch_first=False``) driving every network, or one such tensor
        per network (all of one shape).
    h0 : Tensor, optional
        Initial state of the (S, D) flat layout of ``lyapunov_spectrum``
        (components concatenated, layers stacked) for every network, or
        (G, S, D), one per network. Default zeros.
    k, warmup, qr_every, dtype, convention, keep_finite_time, keep_vectors, rounding_check, progress
        As for :func:`~lyapunov_rnn.lyapunov.lyapunov_spectrum`. With
        ``rounding_check=True`` the perturbations are drawn for the whole
        batch, so they differ from those of per-network calls and an
        exponent moved by about the tolerance can be marked differently.

    Returns
    -------
    list of LyapunovResult
        One per network, in the order of ``models``, each with S rows.

    Raises
    ------
    ValueError
        If ``models`` is empty, the networks differ in architecture, size or
        number of layers, ``inputs`` or ``h0`` do not match G and S, or for
        any reason :func:`~lyapunov_rnn.lyapunov.lyapunov_spectrum` raises
        it (the parameters of a diverged network are named
        ``networks.<g>.<name>``).
    TypeError
        If a model is not an ``nn.Module`` of a supported type.
    """
    networks = [_recurrent_module(model) for model in models]
    if not networks:
        raise ValueError("ensemble_spectrum needs at least one model")
    if not all(isinstance(network, nn.Module) for network in networks):
        raise TypeError("ensemble_spectrum takes nn.Module networks; call lyapunov_spectrum for a step function")
    groups = len(networks)
    per_network = [inputs] * groups if isinstance(inputs, Tensor) else list(inputs)
    if len(per_network) != groups:
        raise ValueError(f"inputs: {len(per_network)} tensors for {groups} networks")
    sequences = [_batch_first_inputs(network, x) for network, x in zip(networks, per_network, strict=True)]
    shapes = {tuple(sequence.shape) for sequence in sequences}
    if len(shapes) > 1:
        raise ValueError(f"the networks' inputs must have one shape, got {sorted(shapes)}")
    batch = sequences[0].shape[0]
    device = _module_device(networks[0])
    sequence = torch.cat([part.to(device) for part in sequences])
    result = lyapunov_spectrum(
        NetworkEnsemble(networks),
        sequence,
        k=k,
        warmup=warmup,
        h0=_ensemble_h0(h0, groups, batch),
        qr_every=qr_every,
        dtype=dtype,
        convention=convention,
        keep_finite_time=keep_finite_time,
        keep_vectors=keep_vectors,
        rounding_check=rounding_check,
        progress=progress,
    )
    return _per_network(result, groups)


def _ensemble_h0(h0: Tensor | None, groups: int, batch: int) -> Tensor | None:
    """``h0`` (S, D) for every network or (G, S, D) per network -> the (G S, D) state of the ensemble."""
    if h0 is None:
        return None
    if not isinstance(h0, Tensor) or h0.ndim not in (2, 3):
        raise ValueError("h0 of an ensemble must be a (S, D) tensor for every network or (G, S, D), one per network")
    if h0.ndim == 2:
        return h0.repeat(groups, 1)
    if h0.shape[:2] != (groups, batch):
        raise ValueError(
            f"h0 must be ({groups}, {batch}, D) for {groups} networks of {batch} sequences, got {h0.shape}"
        )
    return h0.reshape(groups * batch, h0.shape[-1])


def _per_network(result: LyapunovResult, groups: int) -> list[LyapunovResult]:
    """Split a result over G S sequences into G results over S, in network order."""
    batch = result.exponents.shape[0]
    fields: list[dict] = [{} for _ in range(groups)]
    for field in dataclasses.fields(result):
        value = getattr(result, field.name)
        is_batched = isinstance(value, Tensor) and value.ndim > 0 and value.shape[0] == batch
        parts = value.chunk(groups) if is_batched else [value] * groups
        for part_fields, part in zip(fields, parts, strict=True):
            part_fields[field.name] = part
    return [LyapunovResult(**part_fields) for part_fields in fields]
