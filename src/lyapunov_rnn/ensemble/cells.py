"""The forward pass of G networks of one architecture as one computation, each network's numbers its own.

The weights of the G networks are stacked along a leading network dimension:
every parameter ``name`` of :class:`~lyapunov_rnn.models.SequenceModel`
(``rnn.weight_ih_l0``, ``readout.bias``, ...) becomes one (G, ...) tensor,
and the inputs are (G, B, T, I), each network with its own batch.

Every elementwise operation runs once for the G networks (on the CPU, G is
at most :func:`networks_per_pass`, chosen for the cache). Every matrix
product is one ``torch.mm`` per network (:func:`linear`), forward and
backward, as PyTorch computes it for a single network: a batched product
(``torch.bmm``) would round differently from ``torch.mm`` and, for some
shapes, differently for different G, so that a network's result would depend
on the others in its group. The equations, the order of their operations
and the memory layout of every intermediate mirror what PyTorch runs for one
network on the CPU, so that each network's outputs and gradients are
bitwise those of its own :class:`SequenceModel`:

* ``rnn``, ``gru``: ATen's CPU cells (``aten/src/ATen/native/RNN.cpp``):
  the input projection of all steps first (time-major rows), then per step
  ``linear_hh(h)`` plus the projection; :class:`torch.nn.GRU`'s gate order
  r, z, n with ``b_hn`` inside ``r * (W_hn h + b_hn)``, and the gate
  nonlinearities applied in place on the strided gate chunks as ATen does
  (PyTorch's vectorised and scalar ``sigmoid`` differ in the last bit, so
  the layout decides the bits);
* ``lstm``, and ``rnn`` and ``gru`` one network at a time: PyTorch's own
  recurrent operation (for the LSTM oneDNN's fused kernel on the CPU), one
  call per network: a batched LSTM written with PyTorch operations was
  slower than oneDNN on the CPU and could not give its bits, and a lone
  network gains nothing from the batched cells;
* ``asrnn``, ``cornn``: :class:`~lyapunov_rnn.models.AntisymmetricRNN` and
  :class:`~lyapunov_rnn.models.CoupledOscillatoryRNN` step by step, the
  input multiplied and the antisymmetric matrix rebuilt at every step as
  their ``step`` does (the order in which the weight gradients accumulate
  over the steps decides their last bits).

Bitwise equality holds for the elementwise operations when PyTorch does not
split them across threads (one thread, as the workflow's training jobs, or
tensors under its grain size of 32768 elements): a split point depends on G.

With ``batched=True`` (what :func:`~lyapunov_rnn.ensemble.train_ensemble`
runs on a GPU) every matrix product is instead one ``torch.bmm`` for the G
networks (:func:`batched_linear`) and every cell, the LSTM included, is one
recurrence over the stacked states (:func:`_lstm_cell_states`), so that a
step of the group is a fixed number of kernels whatever G: on a GPU the
one-network-at-a-time arithmetic would launch G kernels per product, and
small networks are launch-bound. Each network's numbers are then its own up
to rounding (the products sum in another order than a single network's
``mm`` or cuDNN kernel), not bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

from lyapunov_rnn.models import SequenceModel

__all__ = [
    "ACTIVATION_CACHE_BYTES",
    "STEP_CACHE_BYTES",
    "TORCH_CELLS",
    "batched_linear",
    "ensemble_forward",
    "hidden_layout",
    "linear",
    "networks_per_pass",
]

#: A matrix product of the G networks, (G, R, K) x (G, M, K)^T (+ (G, M)) -> (G, R, M): linear or batched_linear.
Product = Callable[..., torch.Tensor]

#: The architectures run by PyTorch's own recurrent modules (time-major hidden states, batch-first view).
TORCH_CELLS = ("rnn", "lstm", "gru")
#: On the CPU, the bytes of recurrent-layer weights of the networks run step by step together: each step goes
#: through the weights of every network, which have to stay in the cache from one step to the next (on the
#: development machine, with 1 MiB of L2 cache per core, two GRUs of 256 units (870 kB each) trained together were
#: slower than one after the other, four of 128 units faster).
STEP_CACHE_BYTES = 2**20
#: On the CPU, the bytes of activations kept for the backward pass of the networks trained together: the backward
#: pass reads them back, from the cache if they fit (the last-level cache of the development machine: 32 MiB).
ACTIVATION_CACHE_BYTES = 2**25


def networks_per_pass(
    model: SequenceModel, device: torch.device, batch: int, steps: int, *, backward: bool = True
) -> int | None:
    """How many networks like ``model`` to run together on (``batch``, ``steps``) inputs; None: all of them.

    On the CPU, at least one and as many as fit their recurrent weights
    into :data:`STEP_CACHE_BYTES` and, with a ``backward`` pass, their
    activations into :data:`ACTIVATION_CACHE_BYTES`; LSTMs are trained one
    by one (PyTorch runs each network's steps in one oneDNN call, and on the
    development machine two or more LSTMs of 64 units or more trained
    together were up to 30% slower than one after the other). On other
    devices, all together.
    """
    if device.type != "cpu":
        return None
    if model.architecture == "lstm":
        return 1 if backward else None
    parameters = list(model.rnn.parameters())
    element = parameters[0].element_size()
    count = max(1, STEP_CACHE_BYTES // sum(parameter.numel() * element for parameter in parameters))
    if backward:  # about eight hidden-sized tensors per step and sequence (gates, states, nonlinearities)
        count = min(count, max(1, ACTIVATION_CACHE_BYTES // (element * batch * steps * 8 * model.rnn.hidden_size)))
    return count


def hidden_layout(architecture: str, readout: str, batch: int, steps: int, hidden_size: int) -> tuple[int, ...]:
    """Shape, in memory order, of the hidden states one network's dropout acts on.

    Dropout draws its mask in memory order (``empty_like`` keeps the strides
    of its input), so a network's mask equals the single network's only if
    it is drawn in the same layout: (B, N) for the last step, (T, B, N) for
    every step of PyTorch's cells (their batch-first output is a view of a
    time-major tensor) and (B, T, N) for every step of this package's cells.
    """
    if readout == "last":
        return (batch, hidden_size)
    if architecture in TORCH_CELLS:
        return (steps, batch, hidden_size)
    return (batch, steps, hidden_size)


def ensemble_forward(
    weights: Mapping[str, torch.Tensor],
    inputs: torch.Tensor,
    *,
    model: SequenceModel,
    dropout_noise: torch.Tensor | None = None,
    training: bool = True,
    constants: Mapping[str, torch.Tensor] | None = None,
    batched: bool = False,
) -> torch.Tensor:
    """Outputs of G stacked networks.

    Parameters
    ----------
    weights : mapping of str to Tensor
        Each parameter of :class:`~lyapunov_rnn.models.SequenceModel` by its
        name in ``named_parameters``, stacked over the G networks: (G, ...).
    inputs : Tensor
        (G, B, T, I): each network's batch.
    model : SequenceModel
        Any one of the G networks: its architecture, readout and cell
        constants (``eps``, ``gamma``, ``dt``) are every network's; its
        weights are not used.
    dropout_noise : Tensor, optional
        (G, *layout) with ``layout`` from :func:`hidden_layout`: each
        network's dropout mask already divided by its keep probability, or
        None for no dropout.
    training : bool
        Training or evaluation mode (PyTorch's LSTM runs another oneDNN
        kernel for inference).
    constants : mapping of str to Tensor, optional
        Each network's scalar cell constants, (G, 1, 1) in the weights' dtype
        (:func:`cell_constants`), where they differ between the networks
        (an ASRNN's ``gamma = p``); default: ``model``'s.
    batched : bool
        One batched product per matrix product and one recurrence for all
        cells (:func:`batched_linear`; each network's numbers up to
        rounding), instead of one product and, for the LSTM, one PyTorch
        kernel per network (bitwise each network's own).

    Returns
    -------
    Tensor
        (G, B, C) for readout ``"last"``, (G, B, T, C) for ``"every"``.
    """
    architecture, readout = model.architecture, model.readout_mode
    every = readout == "every"
    product = batched_linear if batched else linear
    if not batched and (architecture == "lstm" or (architecture in TORCH_CELLS and inputs.shape[0] == 1)):
        hidden = _torch_module_states(weights, inputs, architecture, every=every, training=training)
    elif architecture == "lstm":
        hidden = _lstm_cell_states(weights, inputs, every=every)
    elif architecture in TORCH_CELLS:
        hidden = _torch_cell_states(weights, inputs, architecture, every=every, product=product)
    elif architecture in ("asrnn", "cornn"):
        constants = constants or cell_constants([model], inputs.dtype, inputs.device)
        states = _asrnn_states if architecture == "asrnn" else _cornn_states
        hidden = states(weights, inputs, constants, every=every, product=product)
    else:
        raise ValueError(f"unknown architecture {architecture!r}")
    if dropout_noise is not None:
        hidden = hidden * dropout_noise
    readout_weight, readout_bias = weights["readout.weight"], weights["readout.bias"]
    groups, batch, steps = inputs.shape[:3]
    if readout == "last":  # nn.Linear on (B, N): addmm
        return product(hidden, readout_weight, readout_bias)
    if architecture in TORCH_CELLS:
        # nn.Linear on the strided batch-first view of a time-major tensor: matmul on a (B T, N) copy, then + bias.
        rows = hidden.transpose(1, 2).reshape(groups, batch * steps, -1)
        outputs = product(rows, readout_weight).add_(readout_bias.unsqueeze(1))
    else:  # nn.Linear on a contiguous (B, T, N) tensor: one addmm over its B T rows
        outputs = product(hidden.reshape(groups, batch * steps, -1), readout_weight, readout_bias)
    return outputs.view(groups, batch, steps, -1)


def linear(inputs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``x W^T (+ b)`` of each network: inputs (G, R, K), weight (G, M, K), bias (G, M) -> (G, R, M).

    One ``torch.mm`` (``torch.addmm`` with a bias) per network, what
    ``nn.functional.linear`` computes on a 2-d input; the backward pass
    computes what autograd computes for ``mm(x, W.t())``.
    """
    return _NetworkwiseLinear.apply(inputs, weight, bias)


def batched_linear(inputs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`linear` as one batched product for the G networks (``torch.bmm``, ``torch.baddbmm`` with a bias).

    Each network's result equals its own ``mm`` up to rounding only: the
    batched kernel may sum in another order, and choose its blocking from G.
    """
    transposed = weight.transpose(1, 2)
    if bias is None:
        return torch.bmm(inputs, transposed)
    return torch.baddbmm(bias.unsqueeze(1), inputs, transposed)


class _NetworkwiseLinear(torch.autograd.Function):
    """:func:`linear`, with the gradients autograd computes for one network's ``mm(x, W.t())``."""

    @staticmethod
    def forward(ctx, inputs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(inputs, weight)
        ctx.with_bias = bias is not None
        outputs = inputs.new_empty(inputs.shape[0], inputs.shape[1], weight.shape[1])
        # unbind makes the G views in one call, where indexing would make each (the loop's main cost).
        operands = zip(inputs.unbind(0), weight.transpose(1, 2).unbind(0), outputs.unbind(0), strict=True)
        if bias is None:
            for network_inputs, transposed, result in operands:
                torch.mm(network_inputs, transposed, out=result)
        else:
            for (network_inputs, transposed, result), network_bias in zip(operands, bias.unbind(0), strict=True):
                torch.addmm(network_bias, network_inputs, transposed, out=result)
        return outputs

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        inputs, weight = ctx.saved_tensors
        grad_inputs = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:  # mm_mat1_backward: grad @ W
            grad_inputs = inputs.new_empty(inputs.shape)
            for network_grad, network_weight, result in zip(
                grad.unbind(0), weight.unbind(0), grad_inputs.unbind(0), strict=True
            ):
                torch.mm(network_grad, network_weight, out=result)
        if ctx.needs_input_grad[1]:  # mm_mat2_backward of the column-major W.t(): (grad^T x)^T, transposed back
            grad_weight = weight.new_empty(weight.shape)
            for network_grad, network_inputs, result in zip(
                grad.transpose(1, 2).unbind(0), inputs.unbind(0), grad_weight.unbind(0), strict=True
            ):
                torch.mm(network_grad, network_inputs, out=result)
        if ctx.with_bias and ctx.needs_input_grad[2]:  # the broadcast bias: summed over the rows
            grad_bias = grad.sum(1)
        return grad_inputs, grad_weight, grad_bias


def _torch_module_states(
    weights: Mapping[str, torch.Tensor], inputs: torch.Tensor, architecture: str, *, every: bool, training: bool
) -> torch.Tensor:
    """Hidden states of nn.RNN, nn.LSTM or nn.GRU, one PyTorch call per network: (G, B, N) last, or (G, T, B, N)."""
    names = ["rnn.weight_ih_l0", "rnn.weight_hh_l0"]
    with_bias = "rnn.bias_ih_l0" in weights
    if with_bias:
        names += ["rnn.bias_ih_l0", "rnn.bias_hh_l0"]
    per_network = zip(*(weights[name].unbind(0) for name in names), strict=True)
    function = {"rnn": torch.rnn_tanh, "lstm": torch.lstm, "gru": torch.gru}[architecture]
    shape = (1, inputs.shape[1], weights["rnn.weight_hh_l0"].shape[-1])
    states = []
    for network_inputs, parameters in zip(inputs.unbind(0), per_network, strict=True):
        # What the module's forward passes: zero initial states, one layer, no inter-layer dropout, batch first.
        initial = inputs.new_zeros(shape)
        if architecture == "lstm":
            initial = (initial, inputs.new_zeros(shape))
        output = function(network_inputs, initial, list(parameters), with_bias, 1, 0.0, training, False, True)[0]
        states.append(output.transpose(0, 1) if every else output[:, -1])
    return torch.stack(states)


def _time_major_projection(
    inputs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, *, product: Product
) -> torch.Tensor:
    """``x W^T (+ b)`` for every step at once: (G, T, B, gates N), as ATen's CPU layer computes it."""
    groups, batch, steps, features = inputs.shape
    rows = inputs.transpose(1, 2).reshape(groups, steps * batch, features)
    projection = product(rows, weight)
    if bias is not None:  # at::linear on a strided 3-d input: matmul, then add_ the bias
        projection.add_(bias.unsqueeze(1))
    return projection.view(groups, steps, batch, -1)


def _torch_cell_states(
    weights: Mapping[str, torch.Tensor], inputs: torch.Tensor, architecture: str, *, every: bool,
    product: Product,
) -> torch.Tensor:
    """Hidden states of nn.RNN (tanh) or nn.GRU: (G, B, N) last, or (G, T, B, N) every step."""
    weight_hh = weights["rnn.weight_hh_l0"]
    bias_hh = weights.get("rnn.bias_hh_l0")
    projection = _time_major_projection(
        inputs, weights["rnn.weight_ih_l0"], weights.get("rnn.bias_ih_l0"), product=product
    )
    h = inputs.new_zeros(inputs.shape[0], inputs.shape[1], weight_hh.shape[-1])
    states = []
    # unbind as ATen does: its backward stacks the step gradients, where indexing would zero-fill per step.
    for projection_t in projection.unbind(1):
        recurrent = product(h, weight_hh, bias_hh)
        if architecture == "rnn":
            h = torch.tanh(recurrent.add_(projection_t))
        else:  # gru
            input_reset, input_update, input_new = projection_t.unsafe_chunk(3, 2)
            hidden_reset, hidden_update, hidden_new = recurrent.unsafe_chunk(3, 2)
            reset_gate = hidden_reset.add_(input_reset).sigmoid_()
            update_gate = hidden_update.add_(input_update).sigmoid_()
            new_gate = input_new.add(hidden_new.mul_(reset_gate)).tanh_()
            h = (h - new_gate).mul_(update_gate).add_(new_gate)
        if every:
            states.append(h)
    return torch.stack(states, dim=1) if every else h


def _lstm_cell_states(weights: Mapping[str, torch.Tensor], inputs: torch.Tensor, *, every: bool) -> torch.Tensor:
    """Hidden states of nn.LSTM with batched products: (G, B, N) last, or (G, T, B, N) every step.

    The equations of :class:`torch.nn.LSTM` (gate order i, f, g, o; zero
    initial states), one recurrence for the G networks; each network's
    numbers are those of its own LSTM up to rounding.
    """
    weight_hh = weights["rnn.weight_hh_l0"]
    bias_hh = weights.get("rnn.bias_hh_l0")
    projection = _time_major_projection(
        inputs, weights["rnn.weight_ih_l0"], weights.get("rnn.bias_ih_l0"), product=batched_linear
    )
    h = inputs.new_zeros(inputs.shape[0], inputs.shape[1], weight_hh.shape[-1])
    c = torch.zeros_like(h)
    states = []
    for projection_t in projection.unbind(1):
        gates = batched_linear(h, weight_hh, bias_hh).add_(projection_t)
        input_gate, forget_gate, cell_gate, output_gate = gates.chunk(4, 2)
        c = forget_gate.sigmoid() * c + input_gate.sigmoid() * cell_gate.tanh()
        h = output_gate.sigmoid() * c.tanh()
        if every:
            states.append(h)
    return torch.stack(states, dim=1) if every else h


#: The scalar constants of each cell of this package, by architecture (attributes of its ``rnn``).
CELL_CONSTANTS = {"asrnn": ("eps", "gamma"), "cornn": ("dt", "gamma", "eps")}


def cell_constants(
    models: Sequence[SequenceModel], dtype: torch.dtype, device: torch.device | str = "cpu"
) -> dict[str, torch.Tensor]:
    """Each network's scalar cell constants as (G, 1, 1) tensors (one row per model; G = 1 broadcasts).

    A constant multiplies a float32 tensor as a Python float does: cast to the
    tensor's dtype first, so the products are those of the single network.
    """
    names = CELL_CONSTANTS.get(models[0].architecture, ())
    return {
        name: torch.tensor([getattr(model.rnn, name) for model in models], dtype=dtype, device=device).view(-1, 1, 1)
        for name in names
    }


def _asrnn_states(
    weights: Mapping[str, torch.Tensor], inputs: torch.Tensor, cell: Mapping[str, torch.Tensor], *, every: bool,
    product: Product,
) -> torch.Tensor:
    """Hidden states of :class:`~lyapunov_rnn.models.AntisymmetricRNN`: (G, B, N) last, or (G, B, T, N)."""
    weight, weight_ih = weights["rnn.weight_hh"], weights["rnn.weight_ih"]
    cell_bias = weights["rnn.bias"].unsqueeze(1) if "rnn.bias" in weights else None
    eye = torch.eye(weight.shape[-1], dtype=weight.dtype, device=weight.device)
    h = inputs.new_zeros(inputs.shape[0], inputs.shape[1], weight.shape[-1])
    states = []
    # The single network rebuilds antisymmetric_matrix(W) every step (which fixes its gradient's last bits); with
    # batched products the bits are not kept anyway, and building it once saves three kernels per step.
    shared = weight - weight.transpose(1, 2) - cell["gamma"] * eye if product is batched_linear else None
    for x_t in inputs.unbind(2):
        recurrent = shared if shared is not None else weight - weight.transpose(1, 2) - cell["gamma"] * eye
        preactivation = product(h, recurrent) + product(x_t, weight_ih)
        if cell_bias is not None:
            preactivation = preactivation + cell_bias
        h = h + cell["eps"] * torch.tanh(preactivation)
        if every:
            states.append(h)
    return torch.stack(states, dim=2) if every else h


def _cornn_states(
    weights: Mapping[str, torch.Tensor], inputs: torch.Tensor, cell: Mapping[str, torch.Tensor], *, every: bool,
    product: Product,
) -> torch.Tensor:
    """Position states y of :class:`~lyapunov_rnn.models.CoupledOscillatoryRNN`: (G, B, N) last, or (G, B, T, N)."""
    weight_hy, weight_hz, weight_ih = weights["rnn.weight_hy"], weights["rnn.weight_hz"], weights["rnn.weight_ih"]
    cell_bias = weights["rnn.bias"].unsqueeze(1) if "rnn.bias" in weights else None
    y = inputs.new_zeros(inputs.shape[0], inputs.shape[1], weight_hy.shape[-1])
    z = torch.zeros_like(y)
    states = []
    for x_t in inputs.unbind(2):
        preactivation = product(y, weight_hy) + product(z, weight_hz) + product(x_t, weight_ih)
        if cell_bias is not None:
            preactivation = preactivation + cell_bias
        z = z + cell["dt"] * (torch.tanh(preactivation) - cell["gamma"] * y - cell["eps"] * z)
        y = y + cell["dt"] * z
        if every:
            states.append(y)
    return torch.stack(states, dim=2) if every else y
