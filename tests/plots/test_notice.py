"""The figure written in place of one without data: it says what is missing and why."""

from __future__ import annotations

from lyapunov_rnn.plots import plot_notice, save_figure


def test_notice_figure_states_the_reason(tmp_path):
    reason = "AeLLE was not trained: every network diverged: none of the 6 networks has a finite final val_loss."
    figure = plot_notice("AeLLE latent space", reason, width=40)
    texts = [text.get_text() for ax in figure.axes for text in ax.texts]
    assert figure.get_suptitle() == "AeLLE latent space: nothing to show"
    assert len(texts) == 1 and " ".join(texts[0].split()) == reason
    assert max(len(line) for line in texts[0].splitlines()) <= 40
    paths = save_figure(figure, tmp_path / "latent_embedding")
    assert all(path.stat().st_size > 1000 for path in paths)
