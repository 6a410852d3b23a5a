"""Held-out quality of theme discovery and codebook matching on the development set.

Nothing here is tuned: the codebook's settings were chosen on the tuning halves
(``codebook_eval.split_indices(n, seed)[0]``) and discovery has no data-set setting. Runs:

* discovery: the held-out half of each of three random splits, each held-out half with one
  randomly chosen label's answers removed, and three 1,000-1,500-answer samples;
* codebook: the full codebook and eight seeded random codebooks of 2-4 themes on each held-out
  half, and again with one label (not in the codebook) removed.

Every table prints the minimum across runs (the figure to quote) beside the median.
"""

from __future__ import annotations

import numpy as np
from codebook_eval import SPLIT_SEEDS, partial_codebooks, score, split_indices
from rich.console import Console
from rich.table import Table
from sklearn.metrics import normalized_mutual_info_score as nmi
from themes_bench import DEV, load_dev


def _discovery_runs(labels: list[str]) -> list[tuple[str, np.ndarray]]:
    n = len(labels)
    lab = np.array(labels)
    names = sorted(set(labels))
    runs = []
    for seed in SPLIT_SEEDS:
        held = split_indices(n, seed)[1]
        runs.append((f"held-out half {seed}", held))
        drop = names[np.random.default_rng(seed).integers(len(names))]
        runs.append((f"held-out half {seed} without {drop}", held[lab[held] != drop]))
    for seed, size in ((21, 1000), (22, 1200), (23, 1500)):
        runs.append((f"sample {size}", np.sort(np.random.default_rng(seed).choice(n, size, False))))
    return runs


def discovery_quality(console: Console, *, show_labels: bool = True) -> None:
    """NMI, number of themes and largest share per held-out run; each run's labels printed."""
    from bot.analysis import SPECIAL_THEMES, Comment, discover_themes
    from bot.analysis.discover import BROAD_SHARE

    texts, labels, groups = load_dev()
    results = []
    for name, idx in _discovery_runs(labels):
        with console.status(f"discovery: {name} ({len(idx)} answers)…"):
            comments = [Comment(str(i), texts[i], groups[i], f"p{i}") for i in idx]
            result = discover_themes(comments)
        numbered = [t for t in result.themes if t.theme_id not in SPECIAL_THEMES]
        grouped = sum(t.size for t in numbered)
        largest = max(t.size for t in numbered) / grouped
        score_ = nmi([labels[i] for i in idx], [a.theme_id for a in result.assignments])
        results.append((name, len(idx), score_, len(numbered), largest))
        console.print(
            f"{name:42s} n={len(idx):5d}  NMI {score_:.3f}  themes {len(numbered):2d}  "
            f"largest {largest:.0%}",
            soft_wrap=True,
        )
        if show_labels:
            for theme in result.themes:
                console.print(
                    f"    {theme.theme_id:>10s} {theme.size:5d}  {theme.label}"
                    f"   [{', '.join(theme.keywords[:4])}]",
                    markup=False,
                    soft_wrap=True,
                )
    scores = [r[2] for r in results]
    ks = [r[3] for r in results]
    shares = [r[4] for r in results]
    table = Table(title=f"Discovery on held-out data ({len(results)} runs)")
    for col in ("figure", "min", "median", "max"):
        table.add_column(col, justify="right" if col != "figure" else "left")
    table.add_row("NMI", f"{min(scores):.3f}", f"{np.median(scores):.3f}", f"{max(scores):.3f}")
    table.add_row("number of themes", str(min(ks)), f"{np.median(ks):.0f}", str(max(ks)))
    table.add_row(
        "largest theme's share",
        f"{min(shares):.0%}",
        f"{np.median(shares):.0%}",
        f"{max(shares):.0%} (worst)",
    )
    console.print(table)
    broad = [f"{r[0]} ({r[4]:.0%})" for r in results if r[4] > BROAD_SHARE]
    console.print(
        f"Runs whose largest theme holds more than {BROAD_SHARE:.0%} of the grouped answers: "
        + ("; ".join(broad) if broad else "none"),
        markup=False,
    )


def codebook_quality(console: Console) -> None:
    from bot.analysis import load_codebook

    texts, labels, groups = load_dev()
    book = load_codebook(DEV.parent / "codebook.yaml")
    n_themes = len(book.themes)
    lab = np.array(labels)
    full = []
    partial: dict[tuple[int, ...], list] = {}
    for seed in SPLIT_SEEDS:
        held = split_indices(len(texts), seed)[1]
        with console.status(f"codebook: held-out half {seed}…"):
            sub = ([texts[i] for i in held], [labels[i] for i in held], [groups[i] for i in held])
            full.append(score(*sub, book, range(n_themes)))
            for keep in partial_codebooks(n_themes):
                partial.setdefault(keep, []).append(score(*sub, book, keep))
                outside = [t.name for i, t in enumerate(book.themes) if i not in keep]
                drop = outside[np.random.default_rng(seed + sum(keep)).integers(len(outside))]
                kept = held[lab[held] != drop]
                sub2 = (
                    [texts[i] for i in kept],
                    [labels[i] for i in kept],
                    [groups[i] for i in kept],
                )
                partial[keep].append(score(*sub2, book, keep))
    table = Table(title="Full codebook (9 themes) on the three held-out halves")
    for col in ("figure", "min", "median"):
        table.add_column(col, justify="right" if col != "figure" else "left")
    for name in ("accuracy", "precision", "recall", "f1"):
        values = [getattr(r, name) for r in full]
        table.add_row(name, f"{min(values):.3f}", f"{np.median(values):.3f}")
    console.print(table)
    console.print(
        "accuracy counts an answer right only when it lands on its own label's theme "
        "(answers sent to other count as wrong)"
    )
    table = Table(
        title="Partial codebooks (2-4 themes), held-out halves with and without one label: "
        "min over 6 runs each"
    )
    for col in ("codebook", "precision", "recall", "F1", "other share of off-codebook"):
        table.add_column(col, justify="right" if col != "codebook" else "left")
    worst_f1, worst_other = 1.0, 1.0
    for runs in partial.values():
        f1 = min(r.f1 for r in runs)
        other = min(r.other_share for r in runs)
        worst_f1, worst_other = min(worst_f1, f1), min(worst_other, other)
        table.add_row(
            " + ".join(runs[0].names),
            f"{min(r.precision for r in runs):.3f}",
            f"{min(r.recall for r in runs):.3f}",
            f"{f1:.3f}",
            f"{other:.3f}",
        )
    console.print(table)
    f1s = sorted(min(r.f1 for r in runs) for runs in partial.values())
    console.print(
        f"Across the {len(partial)} partial codebooks: minimum F1 {worst_f1:.3f} "
        f"(median {np.median(f1s):.3f}; target >= 0.55), minimum other share {worst_other:.3f} "
        "(target >= 0.70)."
    )


def held_out_quality() -> None:
    from codebook_ceiling import supervised_ceiling

    console = Console()
    discovery_quality(console)
    codebook_quality(console)
    supervised_ceiling(console)
