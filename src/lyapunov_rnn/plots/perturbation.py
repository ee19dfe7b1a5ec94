"""Which exponents AeLLE's prediction reads: decoded spectra along the predictor's direction in latent space."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from lyapunov_rnn.plots.base import exponent_label, new_figure, units_of

__all__ = ["TARGET_NAMES", "plot_latent_perturbation"]

#: Axis name of each AeLLE target variable.
TARGET_NAMES = {"val_loss": "validation loss", "train_loss": "training loss"}
START_STYLES = {"high": "-", "low": "--"}
#: The label of each start: "high" networks end below the median final loss of the training and validation networks.
OUTCOME = {"high": "below", "low": "above"}


def _start_title(at: xr.Dataset) -> str:
    """``typical network, final loss below the median (val)`` with its architecture, size, p, epoch and final loss."""
    final = float(at["final_loss"])
    outcome = f"final loss {final:.3g}" if np.isfinite(final) else "diverged"
    network = f"{at['architecture'].item()}, $N$ = {int(at['hidden_size'])}, $p$ = {float(at['init_param']):.3g}"
    return (
        f"typical network, final loss {OUTCOME[at['start'].item()]} the median ({at['split'].item()})\n{network}\n"
        f"epoch {int(at['epoch'])}, {outcome}"
    )


def plot_latent_perturbation(result: xr.Dataset, cmap: str = "viridis") -> Figure:
    """Decoded spectra along the AeLLE predictor's direction, from a typical high and low network.

    Top row, one panel per start: the decoded spectrum at every step,
    coloured by the final loss the predictor gives the shifted code; the
    start's actual (resampled) spectrum in black, its reconstruction (step 0)
    dashed black. Bottom left: the change of the decoded spectrum from the
    start's reconstruction, Δλ_i against i, for both starts (line style), on
    the same colour scale: which exponents move when the predicted loss
    improves. Bottom right, a check of the path: the predictor's output on
    the shifted code (lines) and the AeLLE's prediction for the decoded
    spectrum fed back through the encoder (markers); where they part, the
    decoded spectra are no longer ones the autoencoder represents faithfully.

    Parameters
    ----------
    result : xr.Dataset
        :func:`lyapunov_rnn.aelle.perturbation.latent_perturbation`.
    cmap : str
        Colormap of the predicted final loss.
    """
    target = TARGET_NAMES.get(str(result.attrs.get("target")), str(result.attrs.get("target", "target")))
    predicted = result["predicted_final_loss"]
    norm = Normalize(float(predicted.min()), float(predicted.max()))
    colormap = plt.get_cmap(cmap)
    index = result["exponent"].values
    starts = [str(start) for start in result["start"].values]
    fig, axes = new_figure(2, width=5.0, height=4.2, nrows=2)
    spectra_axes, change_ax, check_ax = axes[0], axes[1, 0], axes[1, 1]
    spectra_axes[1].sharey(spectra_axes[0])

    def colour(at: xr.Dataset, step: int) -> tuple:
        return colormap(norm(float(at["predicted_final_loss"].sel(step=step))))

    for ax, start in zip(spectra_axes, starts, strict=True):
        at = result.sel(start=start)
        for step in at["step"].values:
            ax.plot(index, at["decoded"].sel(step=step), color=colour(at, step), lw=1.0, alpha=0.9)
        ax.plot(index, at["actual"], color="black", lw=2.0, label="actual spectrum")
        ax.plot(index, at["decoded"].sel(step=0), color="black", lw=1.0, ls="--", label="reconstruction (step 0)")
        ax.set(title=_start_title(at), xlabel="exponent index $i$ (resampled)", ylabel=exponent_label(result))
        ax.legend(loc="lower left", fontsize="small")
    for start in starts:
        at = result.sel(start=start)
        for step in at["step"].values:
            change_ax.plot(index, at["change"].sel(step=step), ls=START_STYLES.get(start, ":"), lw=1.0,
                           color=colour(at, step))
    change_ax.axhline(0.0, color="0.3", lw=0.6, ls=":")
    change_ax.legend(
        handles=[Line2D([], [], color="0.3", ls=START_STYLES.get(s, ":"), label=f"from the {s} start") for s in starts],
        loc="lower left", fontsize="small",
    )
    change_ax.set(
        title="change from the start's reconstruction", xlabel="exponent index $i$ (resampled)",
        ylabel=rf"change $\Delta\lambda_i$ ({units_of(result)})",
    )
    for ax in (*spectra_axes, change_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))

    score_change = result["score_change"].values
    for start, grey in zip(starts, ("0.1", "0.55"), strict=False):
        at = result.sel(start=start)
        check_ax.plot(score_change, at["predicted_final_loss"], color=grey, ls=START_STYLES.get(start, ":"),
                      label=f"{start} start: predictor on the shifted code")
        check_ax.plot(score_change, at["predicted_final_loss_of_decoded"], color=grey, ls="", marker="o", ms=4,
                      label=f"{start} start: decoded spectrum, encoded again")
    check_ax.axvline(0.0, color="0.3", lw=0.6, ls=":")
    check_ax.set(
        title="does the decoded spectrum predict the same loss?",
        xlabel=r"change of the predictor's score $\Delta s$ (before the sigmoid)",
        ylabel=f"predicted final {target}",
    )
    check_ax.legend(loc="upper left", fontsize="x-small")
    fig.colorbar(
        ScalarMappable(norm=norm, cmap=colormap), ax=[*spectra_axes, change_ax], label=f"predicted final {target}"
    )
    fig.suptitle(
        f"AeLLE latent codes moved along the predictor's weight: decoded spectra by predicted final {target}"
    )
    return fig
